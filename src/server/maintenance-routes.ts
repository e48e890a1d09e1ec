import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { MemberNotFoundError, MemberRoleError, requireLeader } from "./cluster-errors.js";
import { BadRequestError } from "./errors.js";
import type { KvAccess } from "./kv-access.js";
import type { Int64Json } from "./kv-schemas.js";
import type { ServerLimits } from "./options.js";
import { header, int64Schema, parseInt64 } from "./wire.js";

const emptyBody = {
  type: ["object", "null"],
  properties: {},
  additionalProperties: false,
} as const;

/** src/server and dist/server are both two levels below the package root. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
    ) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

export function registerMaintenanceRoutes(
  app: FastifyInstance,
  kv: KvAccess,
  limits: ServerLimits,
): void {
  const version = packageVersion();

  app.post("/v3/maintenance/status", { schema: { body: emptyBody } }, async () => {
    const st = kv.node.status();
    const store = kv.store;
    return {
      header: header(store.revision),
      version,
      memberID: String(st.id),
      leader: String(st.leader),
      raftTerm: String(st.term),
      raftIndex: String(st.commitIndex),
      raftAppliedIndex: String(st.appliedIndex),
      isLearner: st.confState.learners.includes(st.id),
      revision: String(store.revision),
      compactRevision: String(store.compactRevision),
      keyCount: String(store.keyCount),
      warnings: app.securityWarnings(),
    };
  });

  app.post<{ Body: { targetID: Int64Json } }>(
    "/v3/maintenance/transfer-leadership",
    {
      schema: {
        body: {
          type: "object",
          properties: { targetID: int64Schema },
          required: ["targetID"],
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      requireLeader(kv.node, "leadership transfer");
      const target = parseInt64(req.body.targetID, "targetID");
      if (target === 0) throw new BadRequestError("targetID must be a member id, not 0");
      const cs = kv.node.status().confState;
      if (cs.learners.includes(target)) {
        throw new MemberRoleError(`member ${target} is a learner and cannot lead`);
      }
      if (!cs.voters.includes(target)) throw new MemberNotFoundError(target);
      if (target !== kv.node.id) {
        await kv.node.transferLeadership(target, { timeoutMs: limits.requestTimeoutMs });
      }
      return { header: header(kv.store.revision) };
    },
  );

  // The store's own snapshot stream, taken at this moment; a fresh KvStore restores it.
  app.post("/v3/maintenance/snapshot", { schema: { body: emptyBody } }, async (_req, reply) => {
    const stream = Readable.from(kv.store.snapshot(), { objectMode: false });
    return reply
      .header("content-type", "application/octet-stream")
      .header("content-disposition", 'attachment; filename="conclave.snapshot"')
      .send(stream);
  });
}
