/** `conclave lease grant | keepalive | revoke | list | ttl`. */
import { setTimeout as sleep } from "node:timers/promises";
import { ConclaveError } from "../../errors.js";
import { parseInteger } from "../args.js";
import type { CommandDef, CommandGroup } from "../command.js";
import { bytesJson, displayBytes } from "../output.js";
import { leaseId } from "./kv-requests.js";

const idArg = [{ name: "ID" }];

/** A keepalive found the lease already gone. */
export class LeaseExpiredError extends ConclaveError {
  constructor(id: number) {
    super("KV_LEASE_NOT_FOUND", `lease ${id} has expired or was revoked`);
  }
}

const grant: CommandDef = {
  spec: {
    name: "lease grant",
    summary: "Creates a lease that expires TTL seconds after its last keepalive.",
    args: [{ name: "TTL" }],
    options: {},
    details: "Example:\n  conclave lease grant 30",
  },
  async run(ctx, [ttlText = ""], flags) {
    const ttl = parseInteger(ttlText, "TTL", 1, 9_000_000_000, (m) => flags.fail(m));
    const lease = await ctx.client().leaseGrant(ttl, ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ id: lease.id, ttlSeconds: lease.ttlSeconds });
    else ctx.out.write(`lease ${lease.id} granted with TTL(${lease.ttlSeconds}s)\n`);
    return 0;
  },
};

const revoke: CommandDef = {
  spec: {
    name: "lease revoke",
    summary: "Ends a lease now; every key attached to it is deleted.",
    args: idArg,
    options: {},
    details: "Example:\n  conclave lease revoke 7",
  },
  async run(ctx, [idText = ""], flags) {
    const id = leaseId(idText, (m) => flags.fail(m));
    await ctx.client().leaseRevoke(id, ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ id, revoked: true });
    else ctx.out.write(`lease ${id} revoked\n`);
    return 0;
  },
};

const keepalive: CommandDef = {
  spec: {
    name: "lease keepalive",
    summary:
      "Keeps a lease alive: renews it every third of its TTL until interrupted (Ctrl-C), printing each renewal.",
    args: idArg,
    options: { once: { type: "boolean", description: "renew once and exit" } },
    details: "Example:\n  conclave lease keepalive 7",
  },
  async run(ctx, [idText = ""], flags) {
    const id = leaseId(idText, (m) => flags.fail(m));
    const client = ctx.client();
    for (;;) {
      let ttlSeconds: number;
      try {
        ({ ttlSeconds } = await client.leaseKeepAliveOnce(id, ctx.call));
      } catch (err) {
        if (ctx.signal.aborted) return 0;
        throw err;
      }
      // etcd answers a keepalive for a lease that is gone with TTL 0 rather than an error.
      if (ttlSeconds <= 0) throw new LeaseExpiredError(id);
      if (ctx.out.json) ctx.out.writeJson({ id, ttlSeconds });
      else ctx.out.write(`lease ${id} keepalived with TTL(${ttlSeconds}s)\n`);
      if (flags.bool("once")) return 0;
      try {
        await sleep(Math.max(500, (ttlSeconds * 1000) / 3), undefined, { signal: ctx.signal });
      } catch {
        return 0;
      }
    }
  },
};

const list: CommandDef = {
  spec: {
    name: "lease list",
    summary: "Lists the ids of every live lease.",
    args: [],
    options: {},
    details: "Example:\n  conclave lease list",
  },
  async run(ctx) {
    const { ids } = await ctx.client().leases(ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ ids });
    else ctx.out.write(`found ${ids.length} leases\n${ids.map((id) => `${id}\n`).join("")}`);
    return 0;
  },
};

const ttl: CommandDef = {
  spec: {
    name: "lease ttl",
    summary: "Shows a lease's granted and remaining TTL.",
    args: idArg,
    options: { keys: { type: "boolean", description: "also list the keys attached to it" } },
    details: "Example:\n  conclave lease ttl 7 --keys",
  },
  async run(ctx, [idText = ""], flags) {
    const id = leaseId(idText, (m) => flags.fail(m));
    const keys = flags.bool("keys");
    const r = await ctx.client().leaseTimeToLive(id, { keys, ...ctx.call });
    if (ctx.out.json) {
      ctx.out.writeJson({
        id: r.id,
        ttlSeconds: r.ttlSeconds,
        grantedTtlSeconds: r.grantedTtlSeconds,
        ...(keys && { keys: (r.keys ?? []).map((k) => bytesJson("key", k)) }),
      });
      return 0;
    }
    if (r.ttlSeconds < 0) {
      ctx.out.write(`lease ${id} already expired\n`);
      return 0;
    }
    const attached = keys ? `, attached keys([${(r.keys ?? []).map(displayBytes).join(" ")}])` : "";
    ctx.out.write(
      `lease ${r.id} granted with TTL(${r.grantedTtlSeconds}s), remaining(${r.ttlSeconds}s)${attached}\n`,
    );
    return 0;
  },
};

export const leaseGroup: CommandGroup = {
  name: "lease",
  summary: "grant, keep alive, revoke and inspect leases",
  commands: [grant, keepalive, revoke, list, ttl],
};
