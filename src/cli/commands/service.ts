/**
 * `conclave service register | deregister | list | watch | health`: the
 * service registry (`conclave/registry`) from the command line. Imports the
 * registry's core files, not its index, so other client commands do not load
 * the registry's gRPC and DNS parts.
 */
import { InvalidArgumentError } from "../../errors.js";
import type { CheckSpec } from "../../registry/check-spec.js";
import {
  type InstanceInput,
  isServed,
  type ServiceInstance,
  type ServiceSnapshot,
} from "../../registry/instance.js";
import { instanceAddr } from "../../registry/keys.js";
import { Registry } from "../../registry/registry.js";
import type { Flags } from "../args.js";
import type { CommandContext, CommandDef, CommandGroup } from "../command.js";
import { type Output, table } from "../output.js";

const serviceArg = { name: "SERVICE" };

/** The registry's own refusals of bad input are usage errors here (exit 2). */
async function asUsage<T>(flags: Flags, run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof InvalidArgumentError) flags.fail(error.message);
    throw error;
  }
}

/** `host:port`, or `[v6]:port`. */
export function parseHostPort(
  text: string,
  what: string,
  fail: (m: string) => never,
): { host: string; port: number } {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (match === null) return fail(`${what} must be HOST:PORT or [IPv6]:PORT, got "${text}"`);
  return { host: match[1] ?? "", port: Number(match[2]) };
}

function metadataOf(
  entries: readonly string[],
  fail: (m: string) => never,
): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq <= 0) fail(`--meta must be KEY=VALUE, got "${entry}"`);
    metadata[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return metadata;
}

function checksOf(flags: Flags): CheckSpec[] {
  flags.exclusive("check-http", "check-tcp");
  const http = flags.string("check-http");
  const tcp = flags.string("check-tcp");
  if ((http !== undefined || tcp !== undefined) && !flags.bool("persistent")) {
    flags.fail("--check-http and --check-tcp need --persistent: the elected checker runs them");
  }
  if (http !== undefined) return [{ kind: "http", url: http }];
  if (tcp !== undefined) {
    const { host, port } = parseHostPort(tcp, "--check-tcp", (m) => flags.fail(m));
    return [{ kind: "tcp", host, port }];
  }
  return [];
}

function registeredLine(out: Output, instance: ServiceInstance, leaseId?: number): void {
  const name = `${instance.service}/${instance.id}`;
  if (out.json) {
    out.writeJson({
      event: "registered",
      service: instance.service,
      id: instance.id,
      address: instance.address,
      port: instance.port,
      persistent: instance.persistent,
      ...(leaseId !== undefined && { leaseId }),
    });
  } else if (leaseId === undefined) {
    out.write(`registered ${name} at ${instanceAddr(instance)} (persistent)\n`);
  } else {
    out.write(
      `registered ${name} at ${instanceAddr(instance)} on lease ${leaseId}; Ctrl-C deregisters\n`,
    );
  }
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

const register: CommandDef = {
  spec: {
    name: "service register",
    summary:
      "Registers an instance of SERVICE at ADDRESS:PORT. It stays registered while this command runs (on a kept-alive lease) and is deregistered on Ctrl-C or SIGTERM; with --persistent it is written once and stays until `service deregister`.",
    args: [serviceArg, { name: "ID" }, { name: "ADDRESS:PORT" }],
    options: {
      meta: {
        type: "string",
        valueName: "KEY=VALUE",
        multiple: true,
        description: "metadata entry (repeatable)",
      },
      weight: {
        type: "string",
        valueName: "N",
        description: "balancing weight 1..10000 (default 1)",
      },
      ttl: {
        type: "string",
        valueName: "S",
        description:
          "lease TTL in seconds, at least 2 (default 10): how long the instance outlives this process",
      },
      persistent: { type: "boolean", description: "write a record without a lease and exit" },
      "check-http": {
        type: "string",
        valueName: "URL",
        description: "with --persistent: the elected checker GETs URL (2xx passes)",
      },
      "check-tcp": {
        type: "string",
        valueName: "HOST:PORT",
        description: "with --persistent: the elected checker connects to HOST:PORT",
      },
    },
    details:
      "Prints one line once registered (and `reregistered ...` when a lost lease was replaced); with --json, JSON lines {event, ...}.\n" +
      "Examples:\n" +
      "  conclave service register api api-1 10.0.0.5:8080 --meta zone=a --ttl 5\n" +
      "  conclave service register db db-1 10.0.0.9:5432 --persistent --check-tcp 10.0.0.9:5432",
  },
  async run(ctx, [service = "", id = "", target = ""], flags) {
    const fail = (m: string) => flags.fail(m);
    const { host, port } = parseHostPort(target, "ADDRESS:PORT", fail);
    const persistent = flags.bool("persistent");
    if (persistent && flags.has("ttl")) fail("--ttl has no meaning with --persistent");
    const input: InstanceInput = {
      service,
      id,
      address: host,
      port,
      metadata: metadataOf(flags.strings("meta"), fail),
      weight: flags.int("weight", 1, 10_000) ?? 1,
      checks: checksOf(flags),
    };
    const registry = new Registry(ctx.client());
    if (persistent) {
      const instance = await asUsage(flags, () =>
        registry.registerPersistent(input, { signal: ctx.signal }),
      );
      registeredLine(ctx.out, instance);
      return 0;
    }
    const ttlSeconds = flags.int("ttl", 2, 86_400) ?? 10;
    const registration = await asUsage(flags, () =>
      registry.register({
        ...input,
        ttlMs: ttlSeconds * 1000,
        signal: ctx.signal,
        onReregistered: (r) => {
          if (ctx.out.json) ctx.out.writeJson({ event: "reregistered", leaseId: r.leaseId });
          else ctx.out.write(`reregistered ${service}/${id} on lease ${r.leaseId}\n`);
        },
      }),
    );
    registeredLine(ctx.out, registration.instance, registration.leaseId);
    await aborted(ctx.signal);
    await registration.deregister();
    if (ctx.out.json) ctx.out.writeJson({ event: "deregistered", service, id });
    else ctx.out.write(`deregistered ${service}/${id}\n`);
    return 0;
  },
};

const deregister: CommandDef = {
  spec: {
    name: "service deregister",
    summary: "Deletes an instance's record and its naming-format copy, whoever registered it.",
    args: [serviceArg, { name: "ID" }],
    options: {},
    details: "Example:\n  conclave service deregister db db-1",
  },
  async run(ctx, [service = "", id = ""], flags) {
    const registry = new Registry(ctx.client());
    const deleted = await asUsage(flags, () =>
      registry.deregister(service, id, { signal: ctx.signal }),
    );
    if (ctx.out.json) ctx.out.writeJson({ service, id, deregistered: deleted });
    else
      ctx.out.write(
        deleted ? `deregistered ${service}/${id}\n` : `${service}/${id} was not registered\n`,
      );
    return 0;
  },
};

function instanceJson(i: ServiceInstance): Record<string, unknown> {
  return {
    id: i.id,
    address: i.address,
    port: i.port,
    status: i.status,
    weight: i.weight,
    persistent: i.persistent,
    metadata: i.metadata,
    ...(i.checks.length > 0 && { checks: i.checks }),
  };
}

function snapshotJson(s: ServiceSnapshot): Record<string, unknown> {
  return { service: s.service, revision: s.revision, instances: s.instances.map(instanceJson) };
}

function metadataText(metadata: Readonly<Record<string, string>>): string {
  return Object.entries(metadata)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

const list: CommandDef = {
  spec: {
    name: "service list",
    summary:
      "Without SERVICE: every registered service with its instance counts. With SERVICE: its instances, critical ones included.",
    args: [{ name: "SERVICE", optional: true }],
    options: {},
    details:
      "With --json: {services: [{service, instances, served}]} or {service, revision, instances: [...]}.\n" +
      "Examples:\n  conclave service list\n  conclave service list api --json",
  },
  async run(ctx, [service], flags) {
    const registry = new Registry(ctx.client());
    if (service === undefined) {
      const services = await registry.services({ signal: ctx.signal });
      if (ctx.out.json) ctx.out.writeJson({ services });
      else
        ctx.out.write(
          table(
            ["SERVICE", "INSTANCES", "SERVED"],
            services.map((s) => [s.service, String(s.instances), String(s.served)]),
          ),
        );
      return 0;
    }
    const snapshot = await asUsage(flags, () =>
      registry.resolve(service, { includeUnhealthy: true, signal: ctx.signal }),
    );
    if (ctx.out.json) {
      ctx.out.writeJson(snapshotJson(snapshot));
      return 0;
    }
    ctx.out.write(
      table(
        ["ID", "ADDRESS", "STATUS", "WEIGHT", "KIND", "METADATA"],
        snapshot.instances.map((i) => [
          i.id,
          instanceAddr(i),
          i.status,
          String(i.weight),
          i.persistent ? "persistent" : "leased",
          metadataText(i.metadata),
        ]),
      ),
    );
    return 0;
  },
};

function snapshotLine(s: ServiceSnapshot): string {
  const instances = s.instances.map((i) => `${i.id}@${instanceAddr(i)}`).join(" ");
  return `revision ${s.revision}: ${instances === "" ? "(none)" : instances}\n`;
}

const watch: CommandDef = {
  spec: {
    name: "service watch",
    summary:
      "Prints SERVICE's served instances, then again after every change, until interrupted (Ctrl-C).",
    args: [serviceArg],
    options: { all: { type: "boolean", description: "include critical instances" } },
    details:
      "Each line: `revision R: ID@ADDRESS:PORT ...` (or `(none)`); with --json {service, revision, instances}.\n" +
      "Survives dropped connections and compaction: the last line is always the current set.\n" +
      "Example:\n  conclave service watch api",
  },
  async run(ctx, [service = ""], flags) {
    const registry = new Registry(ctx.client());
    const snapshots = await asUsage(flags, () =>
      registry.watch(service, { includeUnhealthy: flags.bool("all"), signal: ctx.signal }),
    );
    try {
      for await (const snapshot of snapshots) {
        if (ctx.out.json) ctx.out.writeJson(snapshotJson(snapshot));
        else ctx.out.write(snapshotLine(snapshot));
      }
    } catch (error) {
      if (ctx.signal.aborted) return 0;
      throw error;
    }
    return 0;
  },
};

/** Exit status of `service health` when no instance is served. */
export const NO_SERVED_INSTANCE_EXIT = 1;

async function health(
  ctx: CommandContext,
  [service = ""]: readonly string[],
  flags: Flags,
): Promise<number> {
  const registry = new Registry(ctx.client());
  const snapshot = await asUsage(flags, () =>
    registry.resolve(service, { includeUnhealthy: true, signal: ctx.signal }),
  );
  const served = snapshot.instances.filter(isServed).length;
  if (ctx.out.json) {
    ctx.out.writeJson({
      service,
      revision: snapshot.revision,
      served,
      instances: snapshot.instances.map((i) => ({
        id: i.id,
        address: i.address,
        port: i.port,
        status: i.status,
      })),
    });
  } else {
    ctx.out.write(
      table(
        ["ID", "ADDRESS", "STATUS"],
        snapshot.instances.map((i) => [i.id, instanceAddr(i), i.status]),
      ),
    );
  }
  return served > 0 ? 0 : NO_SERVED_INSTANCE_EXIT;
}

const healthCommand: CommandDef = {
  spec: {
    name: "service health",
    summary:
      "Shows SERVICE's instances with their health; exits 1 when none is served (passing or warning).",
    args: [serviceArg],
    options: {},
    details:
      "With --json: {service, revision, served, instances: [{id, address, port, status}]}.\n" +
      "Example:\n  conclave service health api || page-someone",
  },
  run: health,
};

export const serviceGroup: CommandGroup = {
  name: "service",
  summary: "register, deregister, list, watch and check the health of service instances",
  commands: [register, deregister, list, watch, healthCommand],
};
