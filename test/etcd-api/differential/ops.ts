/**
 * Seeded random operations over a small key set, in the request shapes of
 * etcd's API (proto field names, base64 bytes, int64 as strings). Leases
 * are named by the order they were granted (`{ lease: n }`), so each server
 * can substitute the id it chose.
 */
import type { Random } from "../../../src/raft/core/prng.js";
import type { Message } from "./raw-grpc.js";

/** A lease by grant order; -1 is a lease neither server ever granted. */
export interface LeaseRef {
  readonly lease: number;
}

export type Op =
  | {
      readonly kind: "kv";
      readonly method: "Range" | "Put" | "DeleteRange" | "Txn" | "Compact";
      readonly req: Message;
    }
  | { readonly kind: "grant" }
  | { readonly kind: "revoke"; readonly lease: LeaseRef }
  | {
      readonly kind: "watch";
      readonly key: string;
      readonly range_end?: string;
      readonly start_revision: number;
      readonly prev_kv: boolean;
      /** Base64 value of the put (made just before) that ends the collection. */
      readonly until_value: string;
    };

/** What the generator knows of the store (the same on both servers while they agree). */
export interface StoreView {
  revision: number;
  compacted: number;
  granted: number;
  watches: number;
}

const NAMES = ["a", "a/1", "a/2", "b", "b/1", "c", "d", "e"];
const VALUES = ["", "x", "y", "zz", "a-much-longer-value"];

export const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

/** etcd's prefix end: the key with its last byte incremented (no 0xff bytes here). */
function prefixEnd(key: string): string {
  return key.slice(0, -1) + String.fromCharCode(key.charCodeAt(key.length - 1) + 1);
}

export class OpGenerator {
  constructor(
    private readonly rng: Random,
    /** Every key lives under it, so runs of several seeds share a store without meeting. */
    private readonly prefix: string,
  ) {}

  private pick<T>(items: readonly T[]): T {
    return items[this.rng.int(items.length)]!;
  }

  private chance(p: number): boolean {
    return this.rng.float() < p;
  }

  private key(): string {
    return this.prefix + this.pick(NAMES);
  }

  /**
   * A key selection: one key, a prefix, a [from, to) interval, or (unless
   * `fromKey` is false) every key from one on.
   */
  private keys(fromKey = true): { key: string; range_end?: string } {
    const k = this.key();
    switch (this.rng.int(5)) {
      case 0:
      case 1:
        return { key: b64(k) };
      case 2:
        return { key: b64(k), range_end: b64(prefixEnd(k)) };
      case 3: {
        const other = this.key();
        const [lo, hi] = k <= other ? [k, other] : [other, k];
        return { key: b64(lo), range_end: b64(hi) };
      }
      default:
        return fromKey && this.chance(0.5)
          ? { key: b64(k), range_end: b64("\0") }
          : { key: b64(this.prefix), range_end: b64(prefixEnd(this.prefix)) };
    }
  }

  private leaseRef(view: StoreView): LeaseRef {
    return { lease: view.granted > 0 && this.chance(0.9) ? this.rng.int(view.granted) : -1 };
  }

  /** A revision around the interesting ones: current, compacted, older, future. */
  private revision(view: StoreView): number {
    switch (this.rng.int(6)) {
      case 0:
        return view.revision + 1 + this.rng.int(2);
      case 1:
        return Math.max(1, view.compacted - this.rng.int(2));
      default:
        return 1 + this.rng.int(view.revision);
    }
  }

  private int64(n: number): string {
    return String(n);
  }

  range(view: StoreView): Message {
    const req: Message = { ...this.keys() };
    if (this.chance(0.4)) req["limit"] = this.int64(1 + this.rng.int(4));
    if (this.chance(0.25)) req["revision"] = this.int64(this.revision(view));
    if (this.chance(0.4)) req["sort_order"] = this.pick(["NONE", "ASCEND", "DESCEND"]);
    if (this.chance(0.4))
      req["sort_target"] = this.pick(["KEY", "VERSION", "CREATE", "MOD", "VALUE"]);
    // Conclave differs on purpose here: given a limit and a sort target but no sort order,
    // etcd cuts at the limit in key order and sorts only what is left; Conclave sorts first.
    const unordered = req["sort_order"] === undefined || req["sort_order"] === "NONE";
    const byKey = req["sort_target"] === undefined || req["sort_target"] === "KEY";
    if (req["limit"] !== undefined && unordered && !byKey) req["sort_order"] = "ASCEND";
    if (this.chance(0.2)) req["keys_only"] = true;
    if (this.chance(0.15)) req["count_only"] = true;
    if (this.chance(0.3)) req["serializable"] = true;
    for (const field of [
      "min_mod_revision",
      "max_mod_revision",
      "min_create_revision",
      "max_create_revision",
    ]) {
      if (this.chance(0.1)) req[field] = this.int64(1 + this.rng.int(view.revision));
    }
    return req;
  }

  put(view: StoreView): Message {
    const req: Message = { key: b64(this.key()) };
    const ignoreValue = this.chance(0.08);
    if (ignoreValue) req["ignore_value"] = true;
    if (!ignoreValue || this.chance(0.2)) req["value"] = b64(this.pick(VALUES));
    const ignoreLease = this.chance(0.08);
    if (ignoreLease) req["ignore_lease"] = true;
    if ((!ignoreLease && this.chance(0.25)) || (ignoreLease && this.chance(0.2))) {
      req["lease"] = this.leaseRef(view);
    }
    if (this.chance(0.4)) req["prev_kv"] = true;
    return req;
  }

  deleteRange(fromKey = true): Message {
    const req: Message = { ...this.keys(fromKey) };
    if (this.chance(0.5)) req["prev_kv"] = true;
    return req;
  }

  private compare(view: StoreView): Message {
    const c: Message = { key: b64(this.key()) };
    if (this.chance(0.15)) {
      c["range_end"] = this.chance(0.5) ? b64(prefixEnd(this.key())) : b64("\0");
    }
    c["result"] = this.pick(["EQUAL", "GREATER", "LESS", "NOT_EQUAL"]);
    const target = this.pick(["VERSION", "CREATE", "MOD", "VALUE", "LEASE"]);
    c["target"] = target;
    switch (target) {
      case "VERSION":
        c["version"] = this.int64(this.rng.int(4));
        break;
      case "CREATE":
        c["create_revision"] = this.int64(this.rng.int(view.revision + 1));
        break;
      case "MOD":
        c["mod_revision"] = this.int64(this.rng.int(view.revision + 1));
        break;
      case "VALUE":
        c["value"] = b64(this.pick(VALUES));
        break;
      default:
        if (this.chance(0.3)) {
          c["lease"] = "0";
        } else {
          c["lease"] = this.leaseRef(view);
          // Lease ids are each server's own choice: only their equality compares across servers.
          c["result"] = this.pick(["EQUAL", "NOT_EQUAL"]);
        }
    }
    return c;
  }

  private requestOp(view: StoreView, depth: number): Message {
    switch (this.rng.int(depth < 2 ? 5 : 4)) {
      case 0:
        return { request_range: this.range(view) };
      case 1:
      case 2:
        return { request_put: this.put(view) };
      case 3:
        // etcd 3.4 crashes on a txn that deletes every key from one on and then puts
        // one of them with ignore_lease or ignore_value (its duplicate check lets
        // that through, its apply then finds no key); Conclave answers it.
        return { request_delete_range: this.deleteRange(false) };
      default:
        return { request_txn: this.txn(view, depth + 1) };
    }
  }

  txn(view: StoreView, depth = 0): Message {
    const ops = (n: number) => Array.from({ length: n }, () => this.requestOp(view, depth));
    const req: Message = {};
    const compares = this.rng.int(4);
    if (compares > 0) req["compare"] = Array.from({ length: compares }, () => this.compare(view));
    const success = ops(this.rng.int(3));
    const failure = ops(this.rng.int(3));
    if (success.length > 0) req["success"] = success;
    if (failure.length > 0) req["failure"] = failure;
    return req;
  }

  compaction(view: StoreView): Message {
    const roll = this.rng.int(5);
    let revision: number;
    if (roll === 0) revision = view.revision + 1 + this.rng.int(3);
    else if (roll === 1 && view.compacted > 0) revision = view.compacted - this.rng.int(2);
    else revision = view.compacted + 1 + this.rng.int(Math.max(1, view.revision - view.compacted));
    return { revision: this.int64(revision) };
  }

  /** The next operations: one, or a marker put and a watch that reads up to it. */
  next(view: StoreView): Op[] {
    const roll = this.rng.int(100);
    if (roll < 22) return [{ kind: "kv", method: "Range", req: this.range(view) }];
    if (roll < 47) return [{ kind: "kv", method: "Put", req: this.put(view) }];
    if (roll < 55) return [{ kind: "kv", method: "DeleteRange", req: this.deleteRange() }];
    if (roll < 77) return [{ kind: "kv", method: "Txn", req: this.txn(view) }];
    if (roll < 81) return [{ kind: "kv", method: "Compact", req: this.compaction(view) }];
    if (roll < 87) return [{ kind: "grant" }];
    if (roll < 91) return [{ kind: "revoke", lease: this.leaseRef(view) }];
    const { key, range_end } = this.chance(0.5)
      ? { key: this.key(), range_end: undefined }
      : { key: this.prefix, range_end: prefixEnd(this.prefix) };
    const marker = `watch-${this.prefix}${view.watches++}`;
    // Never from the compaction point itself: etcd drops a deletion at that revision
    // in the background, so whether its watch sees it depends on timing.
    const start =
      view.compacted > 1 && this.chance(0.2)
        ? view.compacted - 1 - this.rng.int(Math.min(2, view.compacted - 1))
        : Math.max(1, view.compacted + 1, view.revision - this.rng.int(12));
    return [
      { kind: "kv", method: "Put", req: { key: b64(key), value: b64(marker) } },
      {
        kind: "watch",
        key: b64(key),
        ...(range_end !== undefined && { range_end: b64(range_end) }),
        start_revision: start,
        prev_kv: this.chance(0.5),
        until_value: b64(marker),
      },
    ];
  }
}
