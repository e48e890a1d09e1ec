import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { type AlarmMember, type AlarmType, hashHistory, hashStream } from "../kv/index.js";
import { MemberNotFoundError, MemberRoleError, requireLeader } from "./cluster-errors.js";
import { BadRequestError } from "./errors.js";
import type { KvAccess } from "./kv-access.js";
import type { Int64Json } from "./kv-schemas.js";
import { memberProblems } from "./member-problems.js";
import type { ServerLimits } from "./options.js";
import { header, int64Schema, parseInt64 } from "./wire.js";

const emptyBody = {
  type: ["object", "null"],
  properties: {},
  additionalProperties: false,
} as const;

/** etcd's AlarmRequest enums: the gateway takes either the name or the number. */
const ALARM_ACTIONS = ["GET", "ACTIVATE", "DEACTIVATE"] as const;
const ALARM_KINDS = ["NONE", "NOSPACE", "CORRUPT"] as const;

function enumSchema(names: readonly string[]) {
  return {
    anyOf: [
      { type: "string", enum: names },
      { type: "integer", minimum: 0, maximum: names.length - 1 },
    ],
  } as const;
}

interface AlarmRequestJson {
  action?: string | number;
  memberID?: Int64Json;
  alarm?: string | number;
}

const alarmBody = {
  type: ["object", "null"],
  properties: {
    action: enumSchema(ALARM_ACTIONS),
    memberID: int64Schema,
    alarm: enumSchema(ALARM_KINDS),
  },
  additionalProperties: false,
} as const;

function enumName<T extends string>(names: readonly T[], value: string | number | undefined): T {
  // The schema admits only names and in-range numbers; absent is the zero value, as in proto3.
  return typeof value === "number" ? names[value]! : ((value as T | undefined) ?? names[0]!);
}

function alarmsJson(alarms: readonly AlarmMember[]) {
  return alarms.map((a) => ({ memberID: String(a.memberId), alarm: a.alarm }));
}

/**
 * The etcd server version the etcd API reports (StatusResponse.version, the
 * version etcdctl prints). etcd's clients read it as etcd's own version and
 * gate features on it, so it must parse as one and promise no more than the
 * API serves: the proto files are etcd 3.5's wire format, and the 3.5 API
 * (watch progress requests, linearizable member list, fragmented watch
 * answers) is what the gRPC listener implements. Downgrade, the one 3.5 call
 * it refuses, is a cluster-version operation no client depends on. Conclave's
 * own version stays in the HTTP API's `version`.
 */
export const ETCD_API_VERSION = "3.5.0";

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
    const problems = memberProblems(kv);
    return {
      header: header(store.revision),
      version,
      etcdVersion: ETCD_API_VERSION,
      memberID: String(st.id),
      leader: String(st.leader),
      raftTerm: String(st.term),
      raftIndex: String(st.commitIndex),
      raftAppliedIndex: String(st.appliedIndex),
      isLearner: st.confState.learners.includes(st.id),
      revision: String(store.revision),
      compactRevision: String(store.compactRevision),
      keyCount: String(store.keyCount),
      // etcd's dbSize and dbSizeInUse: both the store's size as the quota counts it
      // (LMDB's pages in use; freed pages are reused, so the file is not the measure).
      dbSize: String(store.sizeBytes),
      dbSizeInUse: String(store.sizeBytes),
      errors: problems.errors,
      warnings: [...app.securityWarnings(), ...problems.peerWarnings],
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

  // etcd's Alarm call: GET lists raised alarms (alarm NONE: every kind), ACTIVATE and
  // DEACTIVATE raise or clear one member's alarm through the log.
  app.post<{ Body: AlarmRequestJson | null }>(
    "/v3/maintenance/alarm",
    { schema: { body: alarmBody } },
    async (req) => {
      const body = req.body ?? {};
      const action = enumName(ALARM_ACTIONS, body.action);
      const kind = enumName(ALARM_KINDS, body.alarm);
      const alarm: AlarmType | undefined = kind === "NONE" ? undefined : kind;
      if (action === "GET") {
        const [alarms, revision] = await kv.read(false, (s): [AlarmMember[], number] => [
          s.alarms.list(alarm),
          s.revision,
        ]);
        return { header: header(revision), alarms: alarmsJson(alarms) };
      }
      const memberId = parseInt64(body.memberID, "memberID");
      if (memberId === 0) throw new BadRequestError(`${action} needs memberID, a member id`);
      if (alarm === undefined)
        throw new BadRequestError(`${action} needs alarm NOSPACE or CORRUPT`);
      const result = await kv.write(
        {
          type: "alarm",
          action: action === "ACTIVATE" ? "activate" : "deactivate",
          memberId,
          alarm,
        },
        req,
      );
      return { header: header(result.revision), alarms: alarmsJson(result.alarms) };
    },
  );

  // etcd's Hash: a checksum of everything this member's store holds (history,
  // leases, tables, remembered requests). Member-local: compare HashKV across members.
  app.post("/v3/maintenance/hash", { schema: { body: emptyBody } }, async () => {
    const revision = kv.store.revision;
    const hash = await hashStream(kv.store.snapshot());
    return { header: header(revision), hash };
  });

  // etcd's HashKV: a checksum of the key history up to a revision (0: the current
  // one), from this member's applied state; equal on every member that applied it.
  // etcd's gateway maps Hash and HashKV to the same path; here each has its own.
  app.post<{ Body: { revision?: Int64Json } | null }>(
    "/v3/maintenance/hashkv",
    {
      schema: {
        body: {
          type: ["object", "null"],
          properties: { revision: int64Schema },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const revision = parseInt64(req.body?.revision ?? 0, "revision");
      const view = kv.store.historyView();
      const h = await hashHistory(view, revision);
      return {
        header: header(view.revision),
        hash: h.hash,
        compact_revision: String(h.compactRevision),
        hash_revision: String(h.hashRevision),
      };
    },
  );

  // etcd's Defragment. LMDB puts the pages compaction frees back on its free list
  // and reuses them for later writes, so there is nothing to defragment: the call
  // succeeds and changes nothing (the file never shrinks; its pages in use do).
  app.post("/v3/maintenance/defragment", { schema: { body: emptyBody } }, async () => ({
    header: header(kv.store.revision),
  }));

  // The store's own snapshot stream, taken at this moment; a fresh KvStore restores it.
  app.post("/v3/maintenance/snapshot", { schema: { body: emptyBody } }, async (_req, reply) => {
    const stream = Readable.from(kv.store.snapshot(), { objectMode: false });
    return reply
      .header("content-type", "application/octet-stream")
      .header("content-disposition", 'attachment; filename="conclave.snapshot"')
      .send(stream);
  });
}
