/**
 * `conclave shard list | status | drain | move`: the sharded tier's map and
 * its controller, through the sharded client (`conclave/shard-client`).
 */
import { ShardedClient, type ShardMap, type ShardStatus } from "../../client/sharded/index.js";
import { type Flags, parseInteger } from "../args.js";
import type { CommandContext, CommandDef, CommandGroup } from "../command.js";
import { clientConnectionOptions, withPassword } from "../connection-flags.js";
import { type Output, table } from "../output.js";

/**
 * Runs `fn` with a sharded client made from the global flags. The commands
 * are marked `offline` for the command runner, which then neither connects
 * nor asks for a password: the client is this one, and it asks here.
 */
async function withShardClient<T>(
  ctx: CommandContext,
  flags: Flags,
  fn: (client: ShardedClient) => Promise<T>,
): Promise<T> {
  const user = await withPassword(ctx.globals.user, ctx.promptPassword, (m) => flags.fail(m));
  const client = new ShardedClient({
    endpoints: ctx.globals.endpoints,
    requestTimeoutMs: ctx.globals.timeoutMs,
    ...clientConnectionOptions({ ...ctx.globals, ...(user !== undefined && { user }) }),
  });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

const ids = (list: readonly number[]) => (list.length === 0 ? "-" : list.join(","));
const leaderText = (leader: number) => (leader === 0 ? "-" : String(leader));

export function printMap(out: Output, map: ShardMap): void {
  if (out.json) {
    out.writeJson(map);
    return;
  }
  out.write(
    table(
      ["GROUP", "EPOCH", "REPLICAS", "LEADER"],
      map.groups.map((g) => [
        g.group === 0 ? "0 (meta)" : String(g.group),
        String(g.epoch),
        ids(g.replicas),
        leaderText(g.leader),
      ]),
    ),
  );
}

/** A group with fewer voters on live nodes than the map's replication factor. */
export interface UnderReplicated {
  readonly group: number;
  readonly liveVoters: number;
  readonly replication: number;
}

export function underReplicated(status: ShardStatus, replication: number): UnderReplicated[] {
  const live = new Set(status.nodes.filter((n) => n.live).map((n) => n.id));
  return status.groups.flatMap((g) => {
    const liveVoters = g.voters.filter((v) => live.has(v)).length;
    return liveVoters < replication ? [{ group: g.group, liveVoters, replication }] : [];
  });
}

export function printStatus(
  out: Output,
  status: ShardStatus,
  replication: number,
  short: readonly UnderReplicated[],
): void {
  if (out.json) {
    out.writeJson({ ...status, replication, underReplicated: short });
    return;
  }
  out.write(`controller ${leaderText(status.controller)}, map revision ${status.revision}\n\n`);
  out.write(
    table(
      ["ID", "URL", "LIVE", "DRAINING", "REPLICAS", "LEADERS"],
      status.nodes.map((n) => [
        String(n.id),
        n.client || "-",
        String(n.live),
        String(n.draining),
        String(n.replicas),
        String(n.leaders),
      ]),
    ),
  );
  out.write("\n");
  out.write(
    table(
      ["GROUP", "EPOCH", "TARGET", "VOTERS", "LEARNERS", "LEADER", "SETTLED"],
      status.groups.map((g) => [
        g.group === 0 ? "0 (meta)" : String(g.group),
        String(g.epoch),
        ids(g.target),
        ids(g.voters),
        ids(g.learners),
        leaderText(g.leader),
        String(g.settled),
      ]),
    ),
  );
  for (const u of short) {
    out.write(
      `UNDER-REPLICATED group ${u.group}: ${u.liveVoters} voter(s) on live nodes, replication ${u.replication}\n`,
    );
  }
}

const list: CommandDef = {
  // The runner neither connects nor prompts for these: withShardClient does.
  offline: true,
  spec: {
    name: "shard list",
    summary: "Prints the shard map: each group's epoch, replicas and leader.",
    args: [],
    options: {},
    details:
      "Group 0 is the meta group, which holds the map; shards are groups 1..N. The leader is\n" +
      "the one the answering node knows ('-' when none).\n\n" +
      "--json prints the map as the server sends it:\n" +
      '  {"revision","shardCount","replication","nodes":[{id,peer,client,capacity,draining}],\n' +
      '   "groups":[{group,epoch,replicas,leader}]}\n\n' +
      "Example:\n  conclave shard list --endpoints http://127.0.0.1:2379",
  },
  async run(ctx, _args, flags) {
    printMap(ctx.out, await withShardClient(ctx, flags, (c) => c.map(ctx.call)));
    return 0;
  },
};

const status: CommandDef = {
  offline: true,
  spec: {
    name: "shard status",
    summary:
      "Prints the controller's view: each node's liveness and load, then each group's target, voters and whether it settled.",
    args: [],
    options: {},
    details:
      "Exit status 1 when some group has fewer voters on live nodes than the replication\n" +
      "factor (it has lost redundancy); a group still moving (SETTLED false) or a node that is\n" +
      "down but holds no voter of any group do not make it fail.\n\n" +
      '--json: {"controller","revision","replication","nodes":[{id,client,live,draining,replicas,leaders}],\n' +
      '  "groups":[{group,epoch,target,voters,learners,leader,settled}],"underReplicated":[{group,liveVoters,replication}]}\n\n' +
      "Example:\n  conclave shard status || echo degraded",
  },
  async run(ctx, _args, flags) {
    const [map, view] = await withShardClient(ctx, flags, (c) =>
      Promise.all([c.map(ctx.call), c.status(ctx.call)]),
    );
    const short = underReplicated(view, map.replication);
    printStatus(ctx.out, view, map.replication, short);
    return short.length > 0 ? 1 : 0;
  },
};

const drain: CommandDef = {
  offline: true,
  spec: {
    name: "shard drain",
    summary:
      "Marks a node draining: the controller moves its replicas to other nodes. --undo takes the mark off.",
    args: [{ name: "NODE" }],
    options: {
      undo: { type: "boolean", description: "stop draining the node" },
    },
    details:
      "The node keeps serving what it holds until each replica has moved; watch\n" +
      "`conclave shard status` until its REPLICAS column reaches 0.\n\n" +
      "Example:\n  conclave shard drain 3\n  conclave shard drain 3 --undo",
  },
  async run(ctx, [nodeText = ""], flags) {
    const node = parseInteger(nodeText, "NODE", 1, Number.MAX_SAFE_INTEGER, (m) => flags.fail(m));
    const draining = !flags.bool("undo");
    await withShardClient(ctx, flags, (c) => c.drain(node, draining, ctx.call));
    if (ctx.out.json) ctx.out.writeJson({ node, draining });
    else ctx.out.write(`Node ${node} ${draining ? "is draining" : "is no longer draining"}\n`);
    return 0;
  },
};

const move: CommandDef = {
  offline: true,
  spec: {
    name: "shard move",
    summary: "Moves one replica of a group from one node to another.",
    args: [{ name: "GROUP" }],
    options: {
      from: { type: "string", valueName: "NODE", description: "the node that holds it (required)" },
      to: { type: "string", valueName: "NODE", description: "the node to hold it (required)" },
    },
    details:
      "The controller adds the new replica as a learner, promotes it once caught up, then\n" +
      "removes the old one; the command returns once the move is accepted, with the group's new\n" +
      "epoch. Refused (exit 1) if --from does not hold the group or --to already does.\n\n" +
      "Example:\n  conclave shard move 7 --from 2 --to 4",
  },
  async run(ctx, [groupText = ""], flags) {
    const fail = (m: string) => flags.fail(m);
    const group = parseInteger(groupText, "GROUP", 0, Number.MAX_SAFE_INTEGER, fail);
    const node = (name: string) =>
      parseInteger(
        flags.string(name) ?? fail(`missing flag --${name}`),
        `--${name}`,
        1,
        Number.MAX_SAFE_INTEGER,
        fail,
      );
    const from = node("from");
    const to = node("to");
    if (from === to) fail("--from and --to name the same node");
    const { epoch } = await withShardClient(ctx, flags, (c) => c.move(group, from, to, ctx.call));
    if (ctx.out.json) ctx.out.writeJson({ group, from, to, epoch });
    else ctx.out.write(`Moving group ${group} from node ${from} to node ${to} (epoch ${epoch})\n`);
    return 0;
  },
};

export const shardGroup: CommandGroup = {
  name: "shard",
  summary: "a sharded cluster's map and controller: list, status, drain, move",
  commands: [list, status, drain, move],
};
