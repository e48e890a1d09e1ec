import { type KeyInterval, keyInterval } from "./bytes.js";
import type { KvEvent } from "./types.js";

export interface WatchOptions {
  readonly key: Uint8Array;
  /** As in range: absent → the key, [0x00] → every key >= key, else [key, rangeEnd). */
  readonly rangeEnd?: Uint8Array;
  /** First revision to report; 0 or absent → changes after the current revision. */
  readonly startRevision?: number;
  readonly prevKv?: boolean;
  readonly noPut?: boolean;
  readonly noDelete?: boolean;
}

export interface WatchResponse {
  readonly watchId: number;
  /** The revision these events were written at, or the current one for a progress notice. */
  readonly revision: number;
  /**
   * Frozen, and the same array for every watcher whose filter picked the same
   * events of a live revision, so a consumer can encode it once for all of them.
   */
  readonly events: readonly KvEvent[];
  readonly progressNotify: boolean;
}

export interface Watcher {
  readonly id: number;
  cancel(): void;
}

export type WatchCallback = (response: WatchResponse) => void;

/** Event lists of one revision by the selection (prevKv or not, indexes picked) they hold. */
type SharedSelections = Map<string, readonly KvEvent[]>;

export interface WatchRegistration {
  readonly id: number;
  readonly interval: KeyInterval;
  readonly options: WatchOptions;
  /** Events below this revision were already delivered (or were never asked for). */
  nextRevision: number;
  readonly callback: WatchCallback;
  readonly onError: ((error: unknown) => void) | undefined;
}

/**
 * Live watchers of one store. Not replicated: each replica's watchers hear
 * the commands it applies, one response per revision, in revision order.
 */
export class WatchHub {
  private readonly watchers = new Map<number, WatchRegistration>();
  private nextWatchId = 1;
  private prevKvWatchers = 0;

  get count(): number {
    return this.watchers.size;
  }

  /**
   * Whether any watcher asks for prev_kv: only then does a write read the
   * value it replaces (from the backend, on disk) for its event.
   */
  get wantsPrevKv(): boolean {
    return this.prevKvWatchers > 0;
  }

  add(
    options: WatchOptions,
    nextRevision: number,
    callback: WatchCallback,
    onError?: (error: unknown) => void,
  ): WatchRegistration {
    const reg: WatchRegistration = {
      id: this.nextWatchId++,
      interval: keyInterval(options.key, options.rangeEnd),
      options,
      nextRevision,
      callback,
      onError,
    };
    this.watchers.set(reg.id, reg);
    if (options.prevKv === true) this.prevKvWatchers++;
    return reg;
  }

  remove(id: number): void {
    const reg = this.watchers.get(id);
    if (reg === undefined) return;
    this.watchers.delete(id);
    if (reg.options.prevKv === true) this.prevKvWatchers--;
  }

  registrations(): WatchRegistration[] {
    return [...this.watchers.values()];
  }

  /** Delivers the events of one revision to every interested watcher. */
  publish(revision: number, events: readonly (KvEvent & { keyString: string })[]): void {
    const selections: SharedSelections = new Map();
    for (const reg of [...this.watchers.values()]) this.deliver(reg, revision, events, selections);
  }

  /**
   * `selections` collects the event lists built for one revision by the
   * selection they hold, so watchers with the same pick share one list.
   */
  deliver(
    reg: WatchRegistration,
    revision: number,
    events: readonly (KvEvent & { keyString: string })[],
    selections: SharedSelections = new Map(),
  ): void {
    if (revision < reg.nextRevision || !this.watchers.has(reg.id)) return;
    reg.nextRevision = revision + 1;
    const { interval, options } = reg;
    const picked: number[] = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.type === "put" ? options.noPut : options.noDelete) continue;
      if (!inInterval(interval, e.keyString)) continue;
      picked.push(i);
    }
    if (picked.length === 0) return;
    const withPrevKv = options.prevKv === true;
    const selection = `${withPrevKv ? "p" : "n"}${picked.join(",")}`;
    let shared = selections.get(selection);
    if (shared === undefined) {
      shared = Object.freeze(
        picked.map((i): KvEvent => {
          const e = events[i]!;
          return withPrevKv && e.prevKv !== undefined
            ? { type: e.type, kv: e.kv, prevKv: e.prevKv }
            : { type: e.type, kv: e.kv };
        }),
      );
      selections.set(selection, shared);
    }
    this.call(reg, { watchId: reg.id, revision, events: shared, progressNotify: false });
  }

  progress(revision: number): void {
    for (const reg of [...this.watchers.values()]) {
      this.call(reg, { watchId: reg.id, revision, events: [], progressNotify: true });
    }
  }

  clear(): void {
    this.watchers.clear();
    this.prevKvWatchers = 0;
  }

  /** A watcher whose callback throws is cancelled, so one bad consumer cannot stop apply. */
  private call(reg: WatchRegistration, response: WatchResponse): void {
    try {
      reg.callback(response);
    } catch (error) {
      this.remove(reg.id);
      reg.onError?.(error);
    }
  }
}

function inInterval(iv: KeyInterval, key: string): boolean {
  if (iv.end === undefined) return key === iv.start;
  return key >= iv.start && (iv.end === null || key < iv.end);
}
