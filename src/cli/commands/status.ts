/** `conclave status` and `conclave move-leader`. */
import { parseInteger } from "../args.js";
import type { EndpointStatusView, MemberView } from "../client-port.js";
import type { CommandContext, CommandDef, CommandGroup } from "../command.js";
import { type Output, table } from "../output.js";

export type EndpointReport =
  | {
      readonly endpoint: string;
      readonly status: EndpointStatusView;
      readonly name: string;
      /** What is wrong with this member (see assessReports); empty or absent when nothing is. */
      readonly problems?: readonly string[];
    }
  | { readonly endpoint: string; readonly error: { code: string; message: string } };

/** A member this many entries behind the highest commit index seen is reported as lagging. */
export const DEFAULT_MAX_LAG = 1000;

export function errorSummary(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  return {
    code: typeof e.code === "string" ? e.code : "ERROR",
    message: typeof e.message === "string" ? e.message : String(err),
  };
}

/**
 * Adds to each answering member what is wrong with it: the errors it reports
 * itself (no leader, alarms, peers it cannot authenticate with), and lagging:
 * its applied index more than `maxLag` entries behind the highest commit
 * index any member reported.
 */
export function assessReports(
  reports: readonly EndpointReport[],
  maxLag: number,
): EndpointReport[] {
  let highestCommit = 0;
  for (const r of reports) {
    if ("status" in r) highestCommit = Math.max(highestCommit, r.status.raftIndex);
  }
  return reports.map((r) => {
    if (!("status" in r)) return r;
    const behind = highestCommit - r.status.raftAppliedIndex;
    const problems = [
      ...(r.status.errors ?? []),
      ...(behind > maxLag
        ? [
            `lagging: applied index ${r.status.raftAppliedIndex} is ${behind} entries behind commit index ${highestCommit}`,
          ]
        : []),
    ];
    return { ...r, problems };
  });
}

/** True when every endpoint answered and none has a problem. */
export function allHealthy(reports: readonly EndpointReport[]): boolean {
  return reports.every((r) => "status" in r && (r.problems ?? []).length === 0);
}

export function printStatus(out: Output, reports: readonly EndpointReport[]): void {
  if (out.json) {
    out.writeJson({
      endpoints: reports.map((r) =>
        "status" in r
          ? { endpoint: r.endpoint, name: r.name, ...r.status, problems: r.problems ?? [] }
          : r,
      ),
    });
    return;
  }
  const rows = reports.map((r) => {
    if (!("status" in r))
      return [
        r.endpoint,
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        `${r.error.code}: ${r.error.message}`,
      ];
    const s = r.status;
    return [
      r.endpoint,
      String(s.memberId),
      r.name || "(unnamed)",
      String(s.leader === s.memberId),
      String(s.leader),
      String(s.raftTerm),
      String(s.raftIndex),
      String(s.raftAppliedIndex),
      String(s.revision),
      String(s.isLearner),
      (r.problems ?? []).join("; "),
    ];
  });
  out.write(
    table(
      [
        "ENDPOINT",
        "ID",
        "NAME",
        "IS LEADER",
        "LEADER",
        "TERM",
        "RAFT INDEX",
        "RAFT APPLIED",
        "REVISION",
        "IS LEARNER",
        "ERROR",
      ],
      rows,
    ),
  );
  // After the table, where they are not lost among the columns.
  for (const r of reports) {
    if (!("status" in r)) continue;
    for (const warning of r.status.warnings ?? []) out.write(`WARNING ${r.endpoint}: ${warning}\n`);
  }
}

const maxLagOption = {
  "max-lag": {
    type: "string",
    valueName: "ENTRIES",
    description: `report a member whose applied index is more than this many entries behind the highest commit index seen (default ${DEFAULT_MAX_LAG})`,
  },
} as const;

/** Every endpoint's status, assessed; shared by `status` and `endpoint status`. */
async function statusReports(ctx: CommandContext, maxLag: number): Promise<EndpointReport[]> {
  const client = ctx.client();
  const names = new Map<number, string>();
  const [members, ...statuses] = await Promise.allSettled([
    client.memberList({ serializable: true, ...ctx.call }),
    ...ctx.globals.endpoints.map((e) => client.status(e, ctx.call)),
  ]);
  if (members?.status === "fulfilled") {
    for (const m of members.value.members as readonly MemberView[]) names.set(m.id, m.name);
  }
  const reports = statuses.map((s, i): EndpointReport => {
    const endpoint = ctx.globals.endpoints[i] ?? "";
    if (s.status === "rejected") return { endpoint, error: errorSummary(s.reason) };
    const status = s.value as EndpointStatusView;
    return { endpoint, status, name: names.get(status.memberId) ?? "" };
  });
  return assessReports(reports, maxLag);
}

function statusDef(name: string): CommandDef {
  return {
    spec: {
      name,
      summary:
        "Asks every endpoint for its status: member id and name, the leader it knows, Raft term, index and applied index, key-space revision, whether it is a learner, and what is wrong with it. Exits 1 if any endpoint failed to answer, knows no leader, has an alarm raised, cannot authenticate with a peer or lags.",
      args: [],
      options: maxLagOption,
      details:
        "The ERROR column says what is wrong with a member: no leader known, a raised alarm,\n" +
        "a peer that refuses its handshake (a different cluster secret or certificate), or\n" +
        "an applied index more than --max-lag entries behind the highest commit index seen.\n\n" +
        `Example:\n  conclave ${name} --endpoints http://127.0.0.1:7379,http://127.0.0.1:7381`,
    },
    async run(ctx, _args, flags) {
      const lagText = flags.string("max-lag");
      const maxLag =
        lagText === undefined
          ? DEFAULT_MAX_LAG
          : parseInteger(lagText, "--max-lag", 0, Number.MAX_SAFE_INTEGER, (m) => flags.fail(m));
      const reports = await statusReports(ctx, maxLag);
      printStatus(ctx.out, reports);
      return allHealthy(reports) ? 0 : 1;
    },
  };
}

export const statusCommand: CommandDef = statusDef("status");

/** `conclave endpoint health`, as etcdctl's: a linearizable read through each endpoint alone. */
const endpointHealthCommand: CommandDef = {
  spec: {
    name: "endpoint health",
    summary:
      "Checks each endpoint as etcdctl's endpoint health does: a linearizable read through that endpoint alone, then its alarms and peer handshakes. Exits 1 if any is unhealthy.",
    args: [],
    options: {},
    details:
      "A member is healthy when a linearizable read through it succeeds (it reaches a quorum\n" +
      "through a leader; PERMISSION_DENIED counts, the read went through consensus) and it\n" +
      "reports no error (alarm, no leader, a peer refusing its handshake).\n\n" +
      "Example:\n  conclave endpoint health --endpoints http://127.0.0.1:7379,http://127.0.0.1:7381",
  },
  async run(ctx) {
    const client = ctx.client();
    const results = await Promise.all(
      ctx.globals.endpoints.map((e) => client.endpointHealth(e, ctx.call)),
    );
    if (ctx.out.json) {
      ctx.out.writeJson({
        endpoints: results.map((r) => ({
          endpoint: r.endpoint,
          health: r.health,
          took: `${r.tookMs.toFixed(3)}ms`,
          ...(r.error !== undefined && { error: r.error }),
        })),
      });
    } else {
      for (const r of results) {
        const took = `took = ${r.tookMs.toFixed(3)}ms`;
        ctx.out.write(
          r.health
            ? `${r.endpoint} is healthy: linearizable read: ${took}\n`
            : `${r.endpoint} is unhealthy: ${r.error ?? "unknown"}: ${took}\n`,
        );
      }
    }
    return results.every((r) => r.health) ? 0 : 1;
  },
};

export const endpointGroup: CommandGroup = {
  name: "endpoint",
  summary: "check each endpoint's health or status, as etcdctl's endpoint commands",
  commands: [endpointHealthCommand, statusDef("endpoint status")],
};

export const moveLeaderCommand: CommandDef = {
  spec: {
    name: "move-leader",
    summary: "Hands leadership to the voting member ID and waits until it leads.",
    args: [{ name: "ID" }],
    options: {},
    details: "Example:\n  conclave move-leader 2",
  },
  async run(ctx, [idText = ""], flags) {
    const id = parseInteger(idText, "member ID", 1, Number.MAX_SAFE_INTEGER, (m) => flags.fail(m));
    await ctx.client().moveLeader(id, ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ leader: id });
    else ctx.out.write(`Leadership transferred to member ${id}\n`);
    return 0;
  },
};
