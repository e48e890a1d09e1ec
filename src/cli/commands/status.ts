/** `conclave status` and `conclave move-leader`. */
import { parseInteger } from "../args.js";
import type { EndpointStatusView, MemberView } from "../client-port.js";
import type { CommandDef } from "../command.js";
import { type Output, table } from "../output.js";

export type EndpointReport =
  | { readonly endpoint: string; readonly status: EndpointStatusView; readonly name: string }
  | { readonly endpoint: string; readonly error: { code: string; message: string } };

export function errorSummary(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  return {
    code: typeof e.code === "string" ? e.code : "ERROR",
    message: typeof e.message === "string" ? e.message : String(err),
  };
}

export function printStatus(out: Output, reports: readonly EndpointReport[]): void {
  if (out.json) {
    out.writeJson({
      endpoints: reports.map((r) =>
        "status" in r ? { endpoint: r.endpoint, name: r.name, ...r.status } : r,
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
      "",
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

export const statusCommand: CommandDef = {
  spec: {
    name: "status",
    summary:
      "Asks every endpoint for its status: member id and name, the leader it knows, Raft term, index and applied index, key-space revision, whether it is a learner. Exits 1 if any endpoint failed to answer.",
    args: [],
    options: {},
    details: "Example:\n  conclave status --endpoints http://127.0.0.1:7379,http://127.0.0.1:7381",
  },
  async run(ctx) {
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
    printStatus(ctx.out, reports);
    return reports.every((r) => "status" in r) ? 0 : 1;
  },
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
