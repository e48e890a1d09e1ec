import type { FastifyInstance } from "fastify";
import type { LeaseExpiry, LeaseInfo } from "../kv/index.js";
import { NotLeaderError } from "../raft/core/index.js";
import { encodeBase64 } from "./base64.js";
import { BadRequestError } from "./errors.js";
import type { KvAccess } from "./kv-access.js";
import type { Int64Json } from "./kv-schemas.js";
import { header, int64Schema, parseInt64 } from "./wire.js";

interface LeaseIdJson {
  ID: Int64Json;
}

const idBody = {
  type: "object",
  properties: { ID: int64Schema },
  required: ["ID"],
  additionalProperties: false,
} as const;

/** etcd's TTLs are whole seconds; the store keeps milliseconds. */
const MS_PER_SECOND = 1000;
/** Keeps ttlMs a safe integer. */
export const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

const ttlSeconds = (ttlMs: number) => Math.ceil(ttlMs / MS_PER_SECOND);

/** Leases one keepalives request may renew. */
export const MAX_KEEPALIVE_BATCH = 1000;

function leaseId(value: Int64Json): number {
  const id = parseInt64(value, "ID");
  if (id === 0) throw new BadRequestError("ID must be a lease id, not 0");
  return id;
}

export function registerLeaseRoutes(app: FastifyInstance, kv: KvAccess, expiry: LeaseExpiry): void {
  app.post<{ Body: { TTL: Int64Json; ID?: Int64Json } }>(
    "/v3/lease/grant",
    {
      schema: {
        body: {
          type: "object",
          properties: { TTL: int64Schema, ID: int64Schema },
          required: ["TTL"],
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const ttl = parseInt64(req.body.TTL, "TTL");
      if (ttl < 1 || ttl > MAX_TTL_SECONDS) {
        throw new BadRequestError(
          `TTL must be between 1 and ${MAX_TTL_SECONDS} seconds, got ${ttl}`,
        );
      }
      const id = parseInt64(req.body.ID, "ID");
      const r = await kv.write({ type: "leaseGrant", id, ttlMs: ttl * MS_PER_SECOND }, req);
      return { header: header(r.revision), ID: String(r.id), TTL: String(ttlSeconds(r.ttlMs)) };
    },
  );

  app.post<{ Body: LeaseIdJson }>("/v3/lease/revoke", { schema: { body: idBody } }, async (req) => {
    const r = await kv.write({ type: "leaseRevoke", id: leaseId(req.body.ID) }, req);
    return { header: header(r.revision) };
  });

  app.post<{ Body: LeaseIdJson }>(
    "/v3/lease/keepalive",
    { schema: { body: idBody } },
    async (req) => {
      // Renewed in the leader's memory: a ReadIndex, no log entry.
      const r = await kv.keepAlive(leaseId(req.body.ID));
      const ttl = String(ttlSeconds(r.ttlMs));
      return { result: { header: header(r.revision), ID: String(r.id), TTL: ttl } };
    },
  );

  app.post<{ Body: { IDs: Int64Json[] } }>(
    "/v3/lease/keepalives",
    {
      schema: {
        summary:
          "Renews many leases at once behind one ReadIndex (a Conclave extension; the SDK batches its keep-alives here). TTL 0: the lease does not exist or is expiring.",
        body: {
          type: "object",
          properties: {
            IDs: { type: "array", items: int64Schema, minItems: 1, maxItems: MAX_KEEPALIVE_BATCH },
          },
          required: ["IDs"],
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const ids = req.body.IDs.map((id) => leaseId(id));
      const r = await kv.keepAliveMany(ids);
      return {
        header: header(r.revision),
        results: r.leases.map((l) => ({ ID: String(l.id), TTL: String(ttlSeconds(l.ttlMs)) })),
      };
    },
  );

  app.post<{ Body: LeaseIdJson & { keys?: boolean } }>(
    "/v3/lease/timetolive",
    {
      schema: {
        body: {
          type: "object",
          properties: { ID: int64Schema, keys: { type: "boolean" } },
          required: ["ID"],
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const id = leaseId(req.body.ID);
      // Only the leader's clock knows deadlines; a follower sends the client there.
      const notLeader = () => new NotLeaderError(kv.node.status().leader, "lease timetolive");
      if (!expiry.isLeading()) throw notLeader();
      const [info, revision] = await kv.read(false, (s): [LeaseInfo, number] => [
        s.leaseTimeToLive(id),
        s.revision,
      ]);
      if (!expiry.isLeading()) throw notLeader();
      // A lease applied but not yet seen by the clock has its full TTL left.
      const remainingMs = expiry.remainingMs(id) ?? info.ttlMs;
      return {
        header: header(revision),
        ID: String(info.id),
        TTL: String(ttlSeconds(remainingMs)),
        grantedTTL: String(ttlSeconds(info.ttlMs)),
        ...(req.body.keys === true && { keys: info.keys.map(encodeBase64) }),
      };
    },
  );

  app.post(
    "/v3/lease/leases",
    {
      schema: {
        body: { type: ["object", "null"], properties: {}, additionalProperties: false },
      },
    },
    async () => {
      const [leases, revision] = await kv.read(false, (s): [LeaseInfo[], number] => [
        s.leases(),
        s.revision,
      ]);
      return { header: header(revision), leases: leases.map((l) => ({ ID: String(l.id) })) };
    },
  );
}
