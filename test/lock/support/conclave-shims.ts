/**
 * Stand-ins for two server features the lock backend relies on, installed on
 * an in-process test cluster only where createServer does not provide them
 * yet: the `POST /v3/watch` server-sent-events route (per the API contract)
 * and lease expiry on the leader. Once the server has them, the cluster
 * helper leaves these out.
 */
import type { FastifyInstance } from "fastify";
import {
  encodeCommand,
  type KvResult,
  type KvStore,
  type WatchResponse,
} from "../../../src/kv/index.js";
import type { RaftNode } from "../../../src/raft/node/index.js";
import { keyValueJson } from "../../../src/server/wire.js";

interface WatchBody {
  readonly key: string;
  readonly range_end?: string;
  readonly start_revision?: string | number;
  readonly filters?: readonly string[];
}

const fromBase64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));

/** `POST /v3/watch` as the contract describes it (no progress notices, no limits). */
export function addWatchRoute(app: FastifyInstance, store: KvStore): void {
  if (app.hasRoute({ method: "POST", url: "/v3/watch" })) return;
  const open = new Set<{ end(): void }>();
  // Streams never end by themselves; close must not wait for them.
  app.addHook("preClose", async () => {
    for (const stream of open) stream.end();
  });
  app.post<{ Body: WatchBody }>("/v3/watch", async (req, reply) => {
    const body = req.body;
    if (typeof body?.key !== "string") {
      return reply.status(400).send({ code: "INVALID_ARGUMENT", message: "key is required" });
    }
    const filters = body.filters ?? [];
    reply.hijack();
    const out = reply.raw;
    open.add(out);
    out.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const send = (event: string, data: unknown, id?: number) => {
      out.write(
        `event: ${event}\n${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`,
      );
    };
    const header = (revision: number) => ({ revision: String(revision) });
    send("created", { header: header(store.revision) });
    let watcher: { cancel(): void } | undefined;
    try {
      watcher = store.watch(
        {
          key: fromBase64(body.key),
          ...(body.range_end !== undefined && { rangeEnd: fromBase64(body.range_end) }),
          startRevision: Number(body.start_revision ?? 0),
          noPut: filters.includes("NOPUT"),
          noDelete: filters.includes("NODELETE"),
        },
        (response: WatchResponse) => {
          if (response.progressNotify) return;
          send(
            "events",
            {
              header: header(response.revision),
              events: response.events.map((e) => ({
                type: e.type === "put" ? "PUT" : "DELETE",
                kv: keyValueJson(e.kv),
              })),
            },
            response.revision,
          );
        },
        () => out.end(),
      );
    } catch (error) {
      const e = error as { code?: string; message?: string; compactedRevision?: number };
      send("error", { code: e.code ?? "UNKNOWN", message: e.message ?? String(error) });
      out.end();
      return;
    }
    const ping = setInterval(() => out.write(": ping\n\n"), 5000);
    req.raw.socket.on("close", () => {
      clearInterval(ping);
      open.delete(out);
      watcher?.cancel();
    });
  });
}

/**
 * Leader-side lease expiry: every member watches the lease results its store
 * applies, and the leader revokes (through the log) each lease whose TTL
 * passed without a keepalive. A new leader grants every lease a fresh TTL
 * plus an election timeout first, as etcd does.
 */
export function startLeaseExpiry(
  node: RaftNode<KvResult>,
  store: KvStore,
  electionMs: number,
): () => void {
  const deadlinesMs = new Map<number, number>();
  let ledTerm = -1;
  type Entry = { readonly index: number; readonly term: number; readonly data: Uint8Array };
  const apply = store.apply.bind(store) as (entry: Entry) => KvResult;
  store.apply = ((entry: Entry) => {
    const result = apply(entry);
    if (result.type === "leaseGrant" || result.type === "leaseKeepAlive") {
      deadlinesMs.set(result.id, performance.now() + result.ttlMs);
    }
    return result;
  }) as KvStore["apply"];
  const revoking = new Set<number>();
  const timer = setInterval(() => {
    const status = node.status();
    if (status.role !== "leader") {
      ledTerm = -1;
      return;
    }
    const now = performance.now();
    if (ledTerm !== status.term) {
      ledTerm = status.term;
      deadlinesMs.clear();
      for (const lease of store.leases()) deadlinesMs.set(lease.id, now + lease.ttlMs + electionMs);
    }
    const known = new Set(store.leases().map((l) => l.id));
    for (const [id, deadline] of deadlinesMs) {
      if (!known.has(id)) {
        deadlinesMs.delete(id);
        continue;
      }
      if (deadline > now || revoking.has(id)) continue;
      revoking.add(id);
      node
        .propose(encodeCommand({ type: "leaseRevoke", id }), { timeoutMs: 2000 })
        .catch(() => {})
        .finally(() => revoking.delete(id));
    }
  }, 50);
  return () => clearInterval(timer);
}
