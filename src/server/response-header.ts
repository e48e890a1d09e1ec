import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { KvResult } from "../kv/index.js";
import type { RaftNode } from "../raft/node/index.js";

/**
 * etcd's cluster_id is a 64-bit number; Conclave's cluster id is a name.
 * The number is the name's SHA-256, first 8 bytes, as a decimal string: the
 * same on every member, stable across restarts.
 */
export function numericClusterId(clusterId: string): string {
  return createHash("sha256").update(clusterId).digest().readBigUInt64BE(0).toString();
}

/** etcd's ResponseHeader as the JSON gateway (and the gRPC messages of protos.ts) spell it. */
export interface ResponseHeaderJson {
  readonly cluster_id?: string;
  readonly member_id: string;
  readonly revision: string;
  readonly raft_term: string;
}

/**
 * Fills in who answered on every response header: etcd's ResponseHeader
 * carries cluster_id, member_id and raft_term beside the revision, and
 * clients use them (etcdctl prints them; a client pinned to one cluster
 * checks cluster_id). Routes set the revision; this adds the rest once, for
 * the HTTP API and the gRPC API that answers through it.
 */
export function addResponseHeaderIdentity(
  app: FastifyInstance,
  node: RaftNode<KvResult>,
  clusterId: string | undefined,
): void {
  const cluster = clusterId === undefined ? undefined : numericClusterId(clusterId);
  const member = String(node.id);
  /** etcd's field order; the revision (a route's, or absent) and any fields a route set are kept. */
  const fullHeader = (revision: unknown, rest: Record<string, unknown> = {}) => ({
    ...(cluster !== undefined && { cluster_id: cluster }),
    member_id: member,
    ...(revision !== undefined && { revision }),
    raft_term: String(node.basicStatus().term),
    ...rest,
  });
  // For answers made outside a route (the gRPC streams' own replies).
  app.decorate(
    "responseHeader",
    (revision: number) => fullHeader(String(revision)) as ResponseHeaderJson,
  );
  // etcd's gateway wraps streamed answers (lease keep-alive) in `result`: that header too.
  const fill = (message: unknown) => {
    if (typeof message !== "object" || message === null) return;
    const header = (message as { header?: unknown }).header;
    if (typeof header !== "object" || header === null || Array.isArray(header)) return;
    const { revision, ...rest } = header as Record<string, unknown>;
    (message as { header: unknown }).header = fullHeader(revision, rest);
  };
  app.addHook("preSerialization", async (_req, _reply, payload: unknown) => {
    fill(payload);
    if (typeof payload === "object" && payload !== null)
      fill((payload as { result?: unknown }).result);
    return payload;
  });
}
