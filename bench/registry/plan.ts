/**
 * What the registry bench registers and watches, computed the same way in
 * the parent and in every child process: instance `g` (0-based, over all
 * registrants) belongs to service `g mod S` and is reachable at a host
 * naming the round and its registrant, on port 10000 + g. Both systems'
 * watchers report instances by that `host:port` address.
 */

export type RegistrySystem = "etcd" | "conclave";

export interface PlannedInstance {
  readonly service: string;
  readonly id: string;
  readonly address: string;
  readonly port: number;
  /** `address:port`: how watchers of both systems name the instance. */
  readonly addr: string;
}

export interface Plan {
  readonly round: number;
  readonly instances: number;
  readonly services: number;
  readonly registrants: number;
}

const FIRST_PORT = 10_000;

export function serviceName(index: number): string {
  return `svc-${index}`;
}

/** Registrant `registrant`'s share of the instances: a contiguous slice, sizes differing by at most one. */
export function registrantSlice(plan: Plan, registrant: number): { from: number; to: number } {
  const base = Math.floor(plan.instances / plan.registrants);
  const extra = plan.instances % plan.registrants;
  const from = registrant * base + Math.min(registrant, extra);
  return { from, to: from + base + (registrant < extra ? 1 : 0) };
}

export function plannedInstance(plan: Plan, registrant: number, g: number): PlannedInstance {
  const address = `r${plan.round}-p${registrant}.bench.internal`;
  const port = FIRST_PORT + g;
  return {
    service: serviceName(g % plan.services),
    id: `i${g}-r${plan.round}`,
    address,
    port,
    addr: `${address}:${port}`,
  };
}

export function registrantInstances(plan: Plan, registrant: number): PlannedInstance[] {
  const { from, to } = registrantSlice(plan, registrant);
  const out: PlannedInstance[] = [];
  for (let g = from; g < to; g++) out.push(plannedInstance(plan, registrant, g));
  return out;
}

/** The etcd way: one key per instance in etcd's naming format, `services/<service>/<addr>`. */
export const ETCD_NAMING_PREFIX = "services/";

export function etcdServicePrefix(service: string): string {
  return `${ETCD_NAMING_PREFIX}${service}/`;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Arguments of a registrant child (one JSON argument). */
export interface RegistrantArgs {
  readonly system: RegistrySystem;
  readonly endpoints: readonly string[];
  readonly plan: Plan;
  readonly registrant: number;
  readonly ttlSeconds: number;
  /** Registrations this process has in flight at once. */
  readonly inFlight: number;
}

/** Arguments of a watcher child: watch number `watchIds[i]` follows `services[i]`. */
export interface WatcherArgs {
  readonly system: RegistrySystem;
  readonly endpoints: readonly string[];
  readonly services: readonly string[];
  readonly watchIds: readonly number[];
  /** Which member this process's client tries first. */
  readonly firstEndpoint: number;
}

/** Lines a child writes on stdout, one JSON object each. */
export type ChildMessage =
  | { readonly type: "ready" }
  | {
      readonly type: "registered";
      readonly addr: string;
      readonly startMs: number;
      readonly endMs: number;
    }
  | { readonly type: "failed"; readonly addr: string; readonly error: string }
  | { readonly type: "all-registered" }
  | { readonly type: "count"; readonly keepAlives: number }
  | { readonly type: "stopped" }
  | { readonly type: "seen"; readonly watch: number; readonly addr: string; readonly atMs: number }
  | { readonly type: "gone"; readonly watch: number; readonly addr: string; readonly atMs: number }
  | { readonly type: "error"; readonly error: string };

/** Commands the parent writes on a registrant's stdin, one a line. */
export type RegistrantCommand = "go" | "count" | "stop";

export function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
