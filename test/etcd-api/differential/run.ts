/**
 * Runs one seed's operations against two servers side by side and records
 * every answer that differs once identity is normalised: headers keep only
 * the revision (cluster, member and term are each server's own), lease ids
 * become their grant order.
 */
import { Xoshiro128 } from "../../../src/raft/core/prng.js";
import { type LeaseRef, type Op, OpGenerator, type StoreView } from "./ops.js";
import type { CallOutcome, Message } from "./raw-grpc.js";
import type { DiffTarget, WatchOutcome } from "./targets.js";

/** A lease id no server in the run granted: what a reference to lease -1 becomes. */
const UNKNOWN_LEASE_ID = "7340032123";
const WATCH_TIMEOUT_MS = 5000;

export interface Difference {
  readonly seed: number;
  readonly step: number;
  readonly op: Op;
  readonly expected: unknown;
  readonly actual: unknown;
}

/** One server's lease ids, in grant order. */
class LeaseIds {
  private readonly ids: string[] = [];

  add(id: string): void {
    this.ids.push(id);
  }

  idOf(ref: LeaseRef): string {
    return this.ids[ref.lease] ?? UNKNOWN_LEASE_ID;
  }

  /** The grant order of `id`, as "L<n>"; ids this run did not grant stay as they are. */
  nameOf(id: string): string {
    const at = this.ids.indexOf(id);
    return at === -1 ? id : `L${at}`;
  }
}

function isLeaseRef(value: unknown): value is LeaseRef {
  return (
    typeof value === "object" &&
    value !== null &&
    "lease" in value &&
    Object.keys(value).length === 1
  );
}

/** The request with lease references replaced by this server's ids. */
function bind(value: unknown, leases: LeaseIds): unknown {
  if (Array.isArray(value)) return value.map((v) => bind(v, leases));
  if (typeof value !== "object" || value === null) return value;
  const out: Message = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isLeaseRef(v) ? leases.idOf(v) : bind(v, leases);
  }
  return out;
}

/** An answer with identity taken out. */
function normalise(value: unknown, leases: LeaseIds): unknown {
  if (Array.isArray(value)) return value.map((v) => normalise(v, leases));
  if (typeof value !== "object" || value === null) return value;
  const out: Message = {};
  // Sorted, so answers compare by content whatever order each server wrote fields in.
  for (const [k, v] of Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (k === "header" && typeof v === "object" && v !== null) {
      const revision = (v as Message)["revision"];
      out[k] = revision === undefined ? {} : { revision };
    } else if ((k === "lease" || k === "ID") && typeof v === "string") {
      out[k] = leases.nameOf(v);
    } else {
      out[k] = normalise(v, leases);
    }
  }
  return out;
}

function outcome(o: CallOutcome, leases: LeaseIds): unknown {
  return o.ok ? normalise(o.message, leases) : { code: o.code, details: o.details };
}

/** Events as etcd's gRPC API sends them: PUT, the zero value, leaves `type` out. */
function watchOutcome(o: WatchOutcome, leases: LeaseIds): unknown {
  if (!("events" in o)) return o;
  return o.events.map((e) => {
    const { type, ...rest } = e;
    return normalise(type === "PUT" ? rest : e, leases);
  });
}

interface Side {
  readonly target: DiffTarget;
  readonly leases: LeaseIds;
}

async function apply(side: Side, op: Op): Promise<{ shown: unknown; raw?: CallOutcome }> {
  const { target, leases } = side;
  switch (op.kind) {
    case "kv": {
      const req = bind(op.req, leases) as Message;
      const raw = await target.kv(op.method, req);
      if (op.method !== "Range") return { shown: outcome(raw, leases), raw };
      // A read changes nothing: ask the JSON gateway too, whose answer must be the same message.
      const gateway = await target.gateway("/v3/kv/range", req);
      // Conclave's one addition to etcd's answer: where the next page starts (paging clients).
      const { next_key: _nextKey, ...answer } = gateway as Message;
      const shownGateway = "status" in gateway ? "refused" : normalise(answer, leases);
      return { shown: { grpc: outcome(raw, leases), gateway: shownGateway }, raw };
    }
    case "grant": {
      const raw = await target.lease("LeaseGrant", { TTL: "600" });
      if (raw.ok) leases.add(String(raw.message["ID"]));
      return { shown: outcome(raw, leases), raw };
    }
    case "revoke": {
      const raw = await target.lease("LeaseRevoke", { ID: leases.idOf(op.lease) });
      return { shown: outcome(raw, leases), raw };
    }
    case "watch": {
      const until = op.until_value;
      const result = await target.watch(
        {
          key: op.key,
          ...(op.range_end !== undefined && { range_end: op.range_end }),
          start_revision: String(op.start_revision),
          prev_kv: op.prev_kv,
        },
        (events) => events.some((e) => (e["kv"] as Message | undefined)?.["value"] === until),
        WATCH_TIMEOUT_MS,
      );
      return { shown: watchOutcome(result, leases) };
    }
  }
}

/** What the reference server's answer says about the store, for the next operations. */
function observe(view: StoreView, op: Op, raw: CallOutcome | undefined): void {
  if (raw === undefined || !raw.ok) return;
  const header = raw.message["header"] as Message | undefined;
  const revision = Number(header?.["revision"] ?? 0);
  if (revision > view.revision) view.revision = revision;
  if (op.kind === "grant") view.granted++;
  if (op.kind === "kv" && op.method === "Compact") {
    view.compacted = Number((op.req as { revision: string }).revision);
  }
}

/**
 * `steps` operations of `seed` against both servers, in lockstep; resolves
 * with every difference (empty when the servers agree).
 */
export async function runSeed(
  seed: number,
  steps: number,
  reference: DiffTarget,
  subject: DiffTarget,
  view: StoreView,
): Promise<Difference[]> {
  const generator = new OpGenerator(new Xoshiro128(seed), `s${seed}/`);
  const ref: Side = { target: reference, leases: new LeaseIds() };
  const sub: Side = { target: subject, leases: new LeaseIds() };
  const differences: Difference[] = [];
  let step = 0;
  while (step < steps) {
    for (const op of generator.next(view)) {
      const expected = await apply(ref, op);
      const actual = await apply(sub, op);
      observe(view, op, expected.raw);
      if (JSON.stringify(expected.shown) !== JSON.stringify(actual.shown)) {
        differences.push({ seed, step, op, expected: expected.shown, actual: actual.shown });
      }
      step++;
    }
  }
  return differences;
}
