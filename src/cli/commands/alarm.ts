/** `conclave alarm list | disarm`, as etcdctl's. */
import { parseInteger } from "../args.js";
import type { AlarmType, AlarmView } from "../client-port.js";
import type { CommandDef, CommandGroup } from "../command.js";
import type { Output } from "../output.js";

const ALARM_TYPES: readonly AlarmType[] = ["NOSPACE", "CORRUPT"];

function printAlarms(out: Output, alarms: readonly AlarmView[]): void {
  if (out.json) {
    out.writeJson({ alarms: alarms.map((a) => ({ memberId: a.memberId, alarm: a.alarm })) });
    return;
  }
  for (const a of alarms) out.write(`memberID:${a.memberId} alarm:${a.alarm}\n`);
}

const list: CommandDef = {
  spec: {
    name: "alarm list",
    summary: "Lists the raised alarms, one per line (nothing when none is raised).",
    args: [],
    options: {},
    details:
      "NOSPACE: the key space reached its quota (--quota-backend-bytes); writes that take\n" +
      "space are refused until it is disarmed.\n\n" +
      "Example:\n  conclave alarm list",
  },
  async run(ctx) {
    printAlarms(ctx.out, await ctx.client().alarms(ctx.call));
    return 0;
  },
};

const disarm: CommandDef = {
  spec: {
    name: "alarm disarm",
    summary:
      "Clears every raised alarm, or one member's with --member-id and --alarm; prints what was cleared.",
    args: [],
    options: {
      "member-id": {
        type: "string",
        valueName: "ID",
        description: "the member whose alarm to clear",
      },
      alarm: { type: "string", valueName: "NOSPACE|CORRUPT", description: "the kind to clear" },
    },
    details:
      "After a NOSPACE alarm, make room first (delete keys, then `compact`); disarming while\n" +
      "the key space is still past its quota lets the next write raise it again.\n\n" +
      "Example:\n  conclave alarm disarm\n  conclave alarm disarm --member-id 2 --alarm NOSPACE",
  },
  async run(ctx, _args, flags) {
    const fail = (m: string): never => flags.fail(m);
    const idText = flags.string("member-id");
    const alarm = flags.choice("alarm", ALARM_TYPES);
    if ((idText === undefined) !== (alarm === undefined)) {
      fail("--member-id and --alarm go together");
    }
    const target =
      idText === undefined || alarm === undefined
        ? undefined
        : { memberId: parseInteger(idText, "member ID", 1, Number.MAX_SAFE_INTEGER, fail), alarm };
    printAlarms(ctx.out, await ctx.client().disarmAlarm(target, ctx.call));
    return 0;
  },
};

export const alarmGroup: CommandGroup = {
  name: "alarm",
  summary: "list or clear the cluster's alarms (NOSPACE: the key space reached its quota)",
  commands: [list, disarm],
};
