/**
 * Settings of `npm run bench -- registry`: flags win over REGISTRY_BENCH_*
 * environment variables, which win over the defaults (or the `--quick`
 * defaults). The shared flags (--quick, --rounds, --only, --no-build,
 * --keep) mean what they mean for `bench kv`.
 */
import { parseArgs } from "node:util";
import { OptionsError } from "../kv/options.js";
import type { RegistrySystem } from "./plan.js";

export interface RegistryBenchOptions {
  readonly rounds: number;
  readonly instances: number;
  readonly services: number;
  /** Child processes the instances are spread over. */
  readonly registrants: number;
  readonly ttlSeconds: number;
  /** Registrations each registrant has in flight at once. */
  readonly inFlight: number;
  /** Window of the steady keep-alive measure. */
  readonly steadyMs: number;
  /** Window of the idle measure (clients connected, nothing registered). */
  readonly idleMs: number;
  readonly systems: readonly RegistrySystem[];
  readonly build: boolean;
  readonly keepDataDir: boolean;
}

const FULL = { rounds: 3, instances: 1000, services: 20, registrants: 10, steadySeconds: 20 };
const QUICK = { rounds: 1, instances: 100, services: 5, registrants: 4, steadySeconds: 6 };

export const USAGE = `usage: npm run bench -- registry [--quick] [--rounds N] [--instances N]
    [--services N] [--registrants N] [--ttl-seconds S] [--steady-seconds S]
    [--only etcd|conclave] [--no-build] [--keep]
  --quick              100 instances, 5 services, 4 registrants, 6 s steady window, 1 round
  --rounds N           rounds, each system once per round (env REGISTRY_BENCH_ROUNDS; default 3)
  --instances N        instances registered (env REGISTRY_BENCH_INSTANCES; default 1,000)
  --services N         services they spread over (env REGISTRY_BENCH_SERVICES; default 20)
  --registrants N      registrant processes (env REGISTRY_BENCH_REGISTRANTS; default 10)
  --ttl-seconds S      lease TTL of every instance (env REGISTRY_BENCH_TTL_SECONDS; default 5)
  --steady-seconds S   keep-alive measuring window (env REGISTRY_BENCH_STEADY_SECONDS; default 20)
  --only NAME          run one system only (no ratios)
  --no-build           start the Conclave servers from dist/ as it is (no npm run build)
  --keep               keep the temporary data dir (server and client logs)`;

const STRING_FLAGS = [
  "rounds",
  "instances",
  "services",
  "registrants",
  "ttl-seconds",
  "steady-seconds",
  "only",
] as const;
type StringFlag = (typeof STRING_FLAGS)[number];

const envName = (flag: StringFlag) => `REGISTRY_BENCH_${flag.toUpperCase().replaceAll("-", "_")}`;

function positiveInteger(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isSafeInteger(value) || value < 1) {
    throw new OptionsError(`--${flag} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function parseRegistryBenchOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): RegistryBenchOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        quick: { type: "boolean" },
        ...Object.fromEntries(STRING_FLAGS.map((f) => [f, { type: "string" as const }])),
        "no-build": { type: "boolean" },
        keep: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new OptionsError((err as Error).message);
  }
  const raw = (flag: StringFlag): string | undefined => {
    const v = values[flag];
    return typeof v === "string" ? v : env[envName(flag)];
  };
  const base = values["quick"] === true || env["REGISTRY_BENCH_QUICK"] === "1" ? QUICK : FULL;
  const only = raw("only");
  if (only !== undefined && only !== "etcd" && only !== "conclave") {
    throw new OptionsError(`--only must be etcd or conclave, got ${JSON.stringify(only)}`);
  }
  const instances = positiveInteger("instances", raw("instances"), base.instances);
  const services = positiveInteger("services", raw("services"), base.services);
  const registrants = positiveInteger("registrants", raw("registrants"), base.registrants);
  // Ports 10000 + g name the instances; the registry takes TTLs from 2 s.
  if (instances > 50_000) throw new OptionsError("--instances must be at most 50,000");
  if (services > instances) throw new OptionsError("--services must be at most --instances");
  if (registrants > instances) throw new OptionsError("--registrants must be at most --instances");
  const ttlSeconds = positiveInteger("ttl-seconds", raw("ttl-seconds"), 5);
  if (ttlSeconds < 2) throw new OptionsError("--ttl-seconds must be at least 2");
  const steadySeconds = positiveInteger(
    "steady-seconds",
    raw("steady-seconds"),
    base.steadySeconds,
  );
  return {
    rounds: positiveInteger("rounds", raw("rounds"), base.rounds),
    instances,
    services,
    registrants,
    ttlSeconds,
    inFlight: 10,
    steadyMs: steadySeconds * 1000,
    idleMs: Math.ceil(steadySeconds / 2) * 1000,
    systems: only === undefined ? ["etcd", "conclave"] : [only],
    build: values["no-build"] !== true,
    keepDataDir: values["keep"] === true,
  };
}

/** The options from this process's arguments and environment; prints the usage and exits on --help or a bad flag. */
export function registryBenchOptionsFromArgv(): RegistryBenchOptions {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    console.log(USAGE);
    process.exit(0);
  }
  try {
    return parseRegistryBenchOptions(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    console.error(`${err.message}\n${USAGE}`);
    process.exit(2);
  }
}
