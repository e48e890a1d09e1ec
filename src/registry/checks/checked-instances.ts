import type { ConclaveClient, KeyValue, TxnOp } from "../../client/index.js";
import type { Clock } from "../../clock.js";
import { MalformedRegistrationError } from "../errors.js";
import { decodeInstance, encodeInstance, isServed, type ServiceInstance } from "../instance.js";
import { namingKey, namingValue, parseInstanceKey, type RegistryLayout } from "../keys.js";
import { CheckRunner } from "./runner.js";

/** The key whose create revision proves the checker still leads: its own election key. */
export interface LeadershipFence {
  readonly key: string;
  readonly createRevision: number;
}

export interface CheckedInstancesOptions {
  readonly client: Pick<ConclaveClient, "txn">;
  readonly layout: RegistryLayout;
  readonly fence: LeadershipFence;
  readonly clock: Clock;
  /** Stops the term: a write found the election key gone. */
  readonly onLeadershipLost: () => void;
  readonly onError: (error: unknown) => void;
}

/** After a write that failed (the cluster unreachable), try again this much later. */
const WRITE_RETRY_MS = 1000;

interface Entry {
  readonly key: string;
  /** The record as last read or written. */
  instance: ServiceInstance;
  /** Its mod revision: every write is guarded by it. */
  modRevision: number;
  readonly runner: CheckRunner;
  /** The value of the write in flight (or last sent): its watch event is ours, not a re-registration. */
  pendingValue: string | undefined;
  /** Writes of one instance run one after another. */
  writing: Promise<void>;
  cancelRetry: () => void;
}

/**
 * The persistent instances one leadership term checks: one CheckRunner per
 * instance record with checks, created, replaced and removed as the records
 * change; each status change written back to the record and the
 * naming-format key in one transaction guarded by the record's mod revision
 * (a concurrent re-registration wins) and by the leadership fence (a deposed
 * checker writes nothing).
 */
export class CheckedInstances implements AsyncDisposable {
  readonly #options: CheckedInstancesOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #stop = new AbortController();

  constructor(options: CheckedInstancesOptions) {
    this.#options = options;
  }

  /** Instances under check. */
  get size(): number {
    return this.#entries.size;
  }

  /** A record was read or put. */
  upsert(kv: KeyValue): void {
    if (this.#stop.signal.aborted) return;
    const key = kv.keyString;
    if (parseInstanceKey(this.#options.layout, key) === undefined) return;
    const existing = this.#entries.get(key);
    if (existing !== undefined) {
      // Known already: our own write's result, or a re-read of the same record.
      if (kv.modRevision <= existing.modRevision) return;
      if (kv.valueString === existing.pendingValue) {
        existing.modRevision = kv.modRevision;
        existing.instance = decodeInstance(key, kv.value);
        return;
      }
    }
    let instance: ServiceInstance;
    try {
      instance = decodeInstance(key, kv.value);
    } catch (error) {
      this.remove(key);
      if (error instanceof MalformedRegistrationError) this.#options.onError(error);
      return;
    }
    this.remove(key);
    if (!instance.persistent || instance.checks.length === 0) return;
    this.#add(key, instance, kv.modRevision);
  }

  /** A record was deleted. */
  remove(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#retire(entry);
  }

  /** After a full read: drops every instance whose key was not in it. */
  retainOnly(keys: ReadonlySet<string>): void {
    for (const key of [...this.#entries.keys()]) if (!keys.has(key)) this.remove(key);
  }

  /** Stops every runner at once and waits for them and for writes in flight. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.allSettled(entries.map((entry) => this.#retire(entry)));
  }

  #add(key: string, instance: ServiceInstance, modRevision: number): void {
    let entry: Entry | undefined;
    const runner = new CheckRunner(
      instance.checks,
      () => {
        if (entry !== undefined) this.#enqueueWrite(entry);
      },
      { clock: this.#options.clock, initialStatus: instance.status },
    );
    entry = {
      key,
      instance,
      modRevision,
      runner,
      pendingValue: undefined,
      writing: Promise.resolve(),
      cancelRetry: () => {},
    };
    this.#entries.set(key, entry);
  }

  #retire(entry: Entry): Promise<void> {
    entry.cancelRetry();
    return entry.runner[Symbol.asyncDispose]();
  }

  #current(entry: Entry): boolean {
    return !this.#stop.signal.aborted && this.#entries.get(entry.key) === entry;
  }

  #enqueueWrite(entry: Entry): void {
    entry.cancelRetry();
    entry.writing = entry.writing.then(() => this.#write(entry));
  }

  async #write(entry: Entry): Promise<void> {
    if (!this.#current(entry)) return;
    const status = entry.runner.status;
    if (status === entry.instance.status) return;
    const { client, layout, fence } = this.#options;
    const next: ServiceInstance = { ...entry.instance, status };
    const value = encodeInstance(next);
    const ops: TxnOp[] = [{ type: "put", key: entry.key, value }];
    const naming = namingKey(layout, next);
    if (naming !== undefined) {
      ops.push(
        isServed(next)
          ? { type: "put", key: naming, value: namingValue(next) }
          : { type: "delete", key: naming },
      );
    }
    entry.pendingValue = value;
    try {
      const reply = await client.txn(
        {
          compare: [
            { key: entry.key, target: "mod", result: "equal", value: entry.modRevision },
            { key: fence.key, target: "create", result: "equal", value: fence.createRevision },
          ],
          success: ops,
          failure: [{ type: "range", key: fence.key, keysOnly: true }],
        },
        { signal: this.#stop.signal },
      );
      if (reply.succeeded) {
        if (this.#current(entry)) {
          entry.modRevision = Math.max(entry.modRevision, reply.revision);
          entry.instance = next;
        }
        return;
      }
      const held = reply.responses[0];
      const fenceKv = held?.type === "range" ? held.kvs[0] : undefined;
      if (fenceKv === undefined || fenceKv.createRevision !== fence.createRevision) {
        this.#options.onLeadershipLost();
      }
      // Otherwise the record changed since it was read: the watch brings the
      // new one, which replaces this runner. Nothing is overwritten.
    } catch (error) {
      if (!this.#current(entry)) return;
      this.#options.onError(error);
      entry.cancelRetry = this.#options.clock.setTimer(
        () => this.#enqueueWrite(entry),
        WRITE_RETRY_MS,
      );
    }
  }
}
