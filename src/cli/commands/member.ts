/** `conclave member list | add | remove | promote`. */
import { parseInteger } from "../args.js";
import type { MemberListResult, MemberView } from "../client-port.js";
import type { CommandDef, CommandGroup } from "../command.js";
import { type Output, table } from "../output.js";

function memberJson(m: MemberView): Record<string, unknown> {
  return {
    id: m.id,
    name: m.name,
    peerURLs: m.peerURLs,
    clientURLs: m.clientURLs,
    isLearner: m.isLearner,
  };
}

export function printMembers(out: Output, result: MemberListResult): void {
  if (out.json) {
    out.writeJson({ members: result.members.map(memberJson) });
    return;
  }
  out.write(
    table(
      ["ID", "NAME", "PEER URLS", "CLIENT URLS", "IS LEARNER"],
      result.members.map((m) => [
        String(m.id),
        m.name || "(unnamed)",
        m.peerURLs.join(","),
        m.clientURLs.join(","),
        String(m.isLearner),
      ]),
    ),
  );
}

function memberId(text: string, fail: (m: string) => never): number {
  return parseInteger(text, "member ID", 1, Number.MAX_SAFE_INTEGER, fail);
}

function urlList(text: string, flag: string, fail: (m: string) => never): string[] {
  const urls = text
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  if (urls.length === 0) fail(`${flag} lists no URL`);
  return urls;
}

const list: CommandDef = {
  spec: {
    name: "member list",
    summary: "Lists the cluster's members.",
    args: [],
    options: {
      serializable: {
        type: "boolean",
        description: "answer from the endpoint's local state (may be stale)",
      },
    },
    details: "Example:\n  conclave member list",
  },
  async run(ctx, _args, flags) {
    const serializable = flags.bool("serializable");
    printMembers(ctx.out, await ctx.client().memberList({ serializable, ...ctx.call }));
    return 0;
  },
};

const add: CommandDef = {
  spec: {
    name: "member add",
    summary:
      "Adds a member to the cluster's configuration, as a learner unless --voter is given. " +
      "Start the new node afterwards with --join.",
    args: [{ name: "NAME" }],
    options: {
      "peer-urls": {
        type: "string",
        valueName: "HOST:PORT,...",
        description: "where the other members reach it (required)",
      },
      "client-urls": {
        type: "string",
        valueName: "URL,...",
        description: "where clients reach it",
      },
      learner: { type: "boolean", description: "add it as a non-voting learner (the default)" },
      voter: {
        type: "boolean",
        description: "add it as a voter; refused if that would leave too few connected voters",
      },
    },
    details:
      "A learner receives the log but does not vote; once it has caught up, make it a voter\n" +
      "with `conclave member promote ID`.\n\n" +
      "Example:\n  conclave member add n4 --peer-urls 127.0.0.1:7386 --client-urls http://127.0.0.1:7385",
  },
  async run(ctx, [name = ""], flags) {
    const peerText = flags.string("peer-urls") ?? flags.fail("missing flag --peer-urls");
    const fail = (m: string) => flags.fail(m);
    const peerURLs = urlList(peerText, "--peer-urls", fail);
    const clientText = flags.string("client-urls");
    const voter = flags.bool("voter");
    if (voter && flags.bool("learner")) fail("--voter and --learner exclude each other");
    const result = await ctx.client().memberAdd(peerURLs, {
      name,
      ...(clientText !== undefined && { clientURLs: urlList(clientText, "--client-urls", fail) }),
      isLearner: !voter,
      ...ctx.call,
    });
    if (ctx.out.json) {
      ctx.out.writeJson({
        member: memberJson(result.member),
        members: result.members.map(memberJson),
      });
      return 0;
    }
    const role = result.member.isLearner ? "learner" : "voter";
    ctx.out.write(`Added ${role} ${result.member.id} (${name}) to the cluster\n\n`);
    printMembers(ctx.out, result);
    return 0;
  },
};

function changeCommand(
  verb: "remove" | "promote",
  summary: string,
  done: (id: number) => string,
): CommandDef {
  return {
    spec: {
      name: `member ${verb}`,
      summary,
      args: [{ name: "ID" }],
      options: {},
      details: `Example:\n  conclave member ${verb} 4`,
    },
    async run(ctx, [idText = ""], flags) {
      const id = memberId(idText, (m) => flags.fail(m));
      const client = ctx.client();
      const result =
        verb === "remove"
          ? await client.memberRemove(id, ctx.call)
          : await client.memberPromote(id, ctx.call);
      if (ctx.out.json) {
        ctx.out.writeJson({ members: result.members.map(memberJson) });
        return 0;
      }
      ctx.out.write(`${done(id)}\n\n`);
      printMembers(ctx.out, result);
      return 0;
    },
  };
}

export const memberGroup: CommandGroup = {
  name: "member",
  summary: "list, add, remove and promote cluster members",
  commands: [
    list,
    add,
    changeCommand(
      "remove",
      "Removes a member from the cluster's configuration.",
      (id) => `Removed member ${id} from the cluster`,
    ),
    changeCommand(
      "promote",
      "Makes a learner a voting member, once it has caught up with the leader.",
      (id) => `Promoted member ${id} to a voting member`,
    ),
  ],
};
