import { randomInt } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { PermissionDeniedError } from "../auth/index.js";
import { InvalidArgumentError } from "../errors.js";
import { encodeMemberAttributes } from "../kv/index.js";
import { parsePeerAddress } from "../raft/transport/index.js";
import { ChangeLane } from "./change-lane.js";
import {
  MemberExistsError,
  MemberNotFoundError,
  MemberRoleError,
  PeerAddressInUseError,
  requireLeader,
} from "./cluster-errors.js";
import { BadRequestError } from "./errors.js";
import type { KvAccess } from "./kv-access.js";
import type { Int64Json } from "./kv-schemas.js";
import type { ServerLimits } from "./options.js";
import {
  checkLearnerCapacity,
  checkLearnerReady,
  checkReconfiguration,
  clusterHealth,
} from "./reconfig-check.js";
import { header, int64Schema, parseInt64 } from "./wire.js";

export interface MemberJson {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  /** Conclave's: where the member serves etcd's gRPC API (the gRPC MemberList's clientURLs); absent when it does not. */
  grpcURLs?: string[];
  isLearner: boolean;
}

const urlList = {
  type: "array",
  maxItems: 16,
  items: { type: "string", minLength: 1, maxLength: 1024 },
} as const;

const idOnly = {
  type: "object",
  properties: { ID: int64Schema },
  required: ["ID"],
  additionalProperties: false,
} as const;

/** Ids etcd-style members get when member/add names none: random, so concurrent adds do not collide. */
const MAX_GENERATED_ID = 2 ** 32;

/** The configuration's members joined with their replicated attributes. */
export function listMembers(kv: KvAccess): MemberJson[] {
  const st = kv.node.status();
  const peerAddress = new Map(st.peers.map((p) => [p.id, p.address]));
  const one = (id: number, isLearner: boolean): MemberJson => {
    const attrs = kv.store.members.get(id);
    const known = peerAddress.get(id);
    return {
      ID: String(id),
      name: attrs?.name ?? "",
      peerURLs: attrs?.peerUrls.length ? [...attrs.peerUrls] : known ? [known] : [],
      clientURLs: [...(attrs?.clientUrls ?? [])],
      ...(attrs?.grpcUrls !== undefined &&
        attrs.grpcUrls.length > 0 && { grpcURLs: [...attrs.grpcUrls] }),
      isLearner,
    };
  };
  return [
    ...st.confState.voters.map((id) => one(id, false)),
    ...st.confState.learners.map((id) => one(id, true)),
  ].sort((a, b) => Number(a.ID) - Number(b.ID));
}

function memberId(value: Int64Json, field = "ID"): number {
  const id = parseInt64(value, field);
  if (id === 0) throw new BadRequestError(`${field} must be a member id, not 0`);
  return id;
}

function memberRole(kv: KvAccess, id: number): "voter" | "learner" | undefined {
  const cs = kv.node.status().confState;
  if (cs.voters.includes(id)) return "voter";
  if (cs.learners.includes(id)) return "learner";
  return undefined;
}

/** How this member guards membership changes it makes as leader. */
export interface ReconfigOptions {
  /** Refuse changes that would leave fewer connected voters than a quorum (default true). */
  readonly strictReconfigCheck?: boolean;
  /** Learners the configuration may hold at once (default 1, as etcd). */
  readonly maxLearners?: number;
}

export const DEFAULT_MAX_LEARNERS = 1;
/** Membership changes queued behind the one in progress; changes are rare, a crowd is abuse. */
const MAX_WAITING_CHANGES = 8;

export function registerClusterRoutes(
  app: FastifyInstance,
  kv: KvAccess,
  limits: ServerLimits,
  reconfig: ReconfigOptions = {},
): void {
  const timeout = () => ({ timeoutMs: limits.requestTimeoutMs });
  const strict = reconfig.strictReconfigCheck ?? true;
  const maxLearners = reconfig.maxLearners ?? DEFAULT_MAX_LEARNERS;
  if (!Number.isSafeInteger(maxLearners) || maxLearners < 0) {
    throw new InvalidArgumentError(
      `server option maxLearners must be a non-negative integer, got ${maxLearners}`,
    );
  }
  if (!strict) {
    app.log.warn(
      "strict reconfiguration check is OFF: member add, promote and remove may leave the " +
        "cluster without a quorum it can reach, which only an offline restore repairs",
    );
  }
  const lane = new ChangeLane(MAX_WAITING_CHANGES);
  const oneAtATime = <T>(change: () => Promise<T>): Promise<T> => lane.run(change);
  const membersReply = async () => {
    // Wait until this node has applied what it just committed, so the answer shows the change.
    await kv.node.linearizableRead(timeout());
    return { header: header(kv.store.revision), members: listMembers(kv) };
  };

  app.post<{ Body: { serializable?: boolean } | null }>(
    "/v3/cluster/member/list",
    {
      schema: {
        body: {
          type: ["object", "null"],
          properties: { serializable: { type: "boolean" }, linearizable: { type: "boolean" } },
          additionalProperties: false,
        },
      },
    },
    async (req) =>
      kv.read(req.body?.serializable === true, (s) => ({
        header: header(s.revision),
        members: listMembers(kv),
      })),
  );

  app.post<{
    Body: {
      ID?: Int64Json;
      name?: string;
      peerURLs: string[];
      clientURLs?: string[];
      isLearner?: boolean;
    };
  }>(
    "/v3/cluster/member/add",
    {
      schema: {
        body: {
          type: "object",
          properties: {
            ID: int64Schema,
            name: { type: "string", maxLength: 256 },
            peerURLs: { ...urlList, minItems: 1, maxItems: 1 },
            clientURLs: urlList,
            isLearner: { type: "boolean" },
          },
          required: ["peerURLs"],
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      requireLeader(kv.node, "member add");
      const body = req.body;
      const peer = body.peerURLs[0]!;
      checkPeerAddress(peer);
      for (const [i, url] of (body.clientURLs ?? []).entries()) checkClientUrl(url, i);
      const requestedId = body.ID === undefined ? 0 : memberId(body.ID);
      // A voter only when asked for by name: a learner cannot cost the cluster its quorum.
      const isLearner = body.isLearner !== false;
      return oneAtATime(async () => {
        requireLeader(kv.node, "member add");
        let id = requestedId;
        if (id !== 0 && memberRole(kv, id) !== undefined) throw new MemberExistsError(id);
        checkPeerUnused(kv, peer, 0);
        while (id === 0 || memberRole(kv, id) !== undefined) {
          id = randomInt(1, MAX_GENERATED_ID);
        }
        const health = clusterHealth(kv.node.status());
        if (isLearner) checkLearnerCapacity(health, maxLearners);
        else if (strict) checkReconfiguration(health, { kind: "addVoter", id });
        const attrs = {
          id,
          name: body.name ?? "",
          peerUrls: [peer],
          clientUrls: body.clientURLs ?? [],
        };
        // Attributes first: by the time the new member appears in the configuration, it has a name.
        await kv.node.propose(encodeMemberAttributes(attrs), timeout());
        if (isLearner) await kv.node.addLearner(id, peer, timeout());
        else await kv.node.addVoter(id, peer, timeout());
        const reply = await membersReply();
        const member = reply.members.find((m) => m.ID === String(id));
        return { ...reply, member };
      });
    },
  );

  app.post<{ Body: { ID: Int64Json } }>(
    "/v3/cluster/member/remove",
    { schema: { body: idOnly } },
    async (req) => {
      requireLeader(kv.node, "member remove");
      const id = memberId(req.body.ID);
      return oneAtATime(async () => {
        requireLeader(kv.node, "member remove");
        if (memberRole(kv, id) === undefined) throw new MemberNotFoundError(id);
        if (strict) checkReconfiguration(clusterHealth(kv.node.status()), { kind: "remove", id });
        await kv.node.removeMember(id, timeout());
        return membersReply();
      });
    },
  );

  app.post<{ Body: { ID: Int64Json } }>(
    "/v3/cluster/member/promote",
    { schema: { body: idOnly } },
    async (req) => {
      requireLeader(kv.node, "member promote");
      const id = memberId(req.body.ID);
      return oneAtATime(async () => {
        requireLeader(kv.node, "member promote");
        const role = memberRole(kv, id);
        if (role === undefined) throw new MemberNotFoundError(id);
        if (role === "voter") throw new MemberRoleError(`member ${id} is already a voter`);
        const status = kv.node.status();
        const peer = status.peers.find((p) => p.id === id);
        const address = kv.store.members.get(id)?.peerUrls[0] ?? peer?.address;
        if (address === undefined) {
          throw new MemberRoleError(`member ${id} has no known peer address to promote it at`);
        }
        checkLearnerReady(
          { id, connected: peer?.connected ?? false, matchIndex: peer?.matchIndex ?? 0 },
          status.commitIndex,
        );
        if (strict) checkReconfiguration(clusterHealth(status), { kind: "promote", id });
        await kv.node.addVoter(id, address, timeout());
        return membersReply();
      });
    },
  );

  // How a follower publishes its own name and client URLs: it cannot propose, the leader can.
  // With peerURLs, etcd's MemberUpdate: the member's peer address changes everywhere.
  app.post<{
    Body: {
      ID: Int64Json;
      name?: string;
      clientURLs?: string[];
      grpcURLs?: string[];
      peerURLs?: string[];
    };
  }>(
    "/v3/cluster/member/update",
    {
      schema: {
        body: {
          type: "object",
          properties: {
            ID: int64Schema,
            name: { type: "string", maxLength: 256 },
            clientURLs: urlList,
            grpcURLs: urlList,
            peerURLs: { ...urlList, minItems: 1, maxItems: 1 },
          },
          required: ["ID"],
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      requireLeader(kv.node, "member update");
      const id = memberId(req.body.ID);
      if (memberRole(kv, id) === undefined) throw new MemberNotFoundError(id);
      for (const [i, url] of (req.body.clientURLs ?? []).entries()) checkClientUrl(url, i);
      for (const [i, url] of (req.body.grpcURLs ?? []).entries())
        checkClientUrl(url, i, "grpcURLs");
      const peer = req.body.peerURLs?.[0];
      if (peer !== undefined) {
        checkPeerAddress(peer);
        // A member's own credential publishes attributes; moving it is an operator's change.
        if (req.authMember !== undefined) {
          throw new PermissionDeniedError("a member may not change its own peer address");
        }
      }
      const update = async () => {
        requireLeader(kv.node, "member update");
        const role = memberRole(kv, id);
        if (role === undefined) throw new MemberNotFoundError(id);
        const now = kv.store.members.get(id);
        const known = kv.node.status().peers.find((p) => p.id === id)?.address;
        const current = now?.peerUrls.length
          ? [...now.peerUrls]
          : known === undefined
            ? []
            : [known];
        if (peer !== undefined) checkPeerUnused(kv, peer, id);
        await kv.node.propose(
          encodeMemberAttributes({
            id,
            name: req.body.name ?? now?.name ?? "",
            peerUrls: peer === undefined ? current : [peer],
            clientUrls: req.body.clientURLs ?? now?.clientUrls ?? [],
            grpcUrls: req.body.grpcURLs ?? now?.grpcUrls ?? [],
          }),
          timeout(),
        );
        // Re-adding a member in its role changes nothing but the address every node dials.
        if (peer !== undefined && known !== peer) {
          if (role === "voter") await kv.node.addVoter(id, peer, timeout());
          else await kv.node.addLearner(id, peer, timeout());
        }
        return membersReply();
      };
      return peer === undefined ? update() : oneAtATime(update);
    },
  );
}

function checkPeerAddress(peer: string): void {
  try {
    parsePeerAddress(peer);
  } catch {
    throw new BadRequestError(`peerURLs[0] must be host:port, got ${JSON.stringify(peer)}`);
  }
}

/** Two members at one peer address would each receive the other's messages (etcd refuses too). */
function checkPeerUnused(kv: KvAccess, peer: string, self: number): void {
  const holder = listMembers(kv).find((m) => m.ID !== String(self) && m.peerURLs.includes(peer));
  if (holder !== undefined) throw new PeerAddressInUseError(peer, Number(holder.ID));
}

function checkClientUrl(url: string, i: number, field = "clientURLs"): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BadRequestError(`${field}[${i}] is not a URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new BadRequestError(`${field}[${i}] must be an http or https URL`);
  }
}
