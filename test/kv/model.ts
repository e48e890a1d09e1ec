/**
 * A deliberately naive reference for the key space: a full copy of the state
 * at every revision, and the event list of every revision. Slow and obviously
 * right, so the real store can be checked against it.
 */
export interface ModelKv {
  key: string;
  createRevision: number;
  modRevision: number;
  version: number;
  value: string;
  lease: number;
}

export interface ModelEvent {
  type: "put" | "delete";
  key: string;
  revision: number;
  kv: ModelKv | undefined;
  prevKv: ModelKv | undefined;
}

export type ModelOp =
  | { op: "put"; key: string; value: string; lease: number }
  | { op: "delete"; key: string; end: string | undefined }
  | { op: "txnVersion"; key: string; version: number; thenKey: string; elseKey: string }
  | { op: "grant"; id: number }
  | { op: "revoke"; id: number }
  | { op: "compact"; back: number };

export class KvModel {
  revision = 1;
  compactRevision = 0;
  readonly states = new Map<number, Map<string, ModelKv>>([[1, new Map()]]);
  readonly events: ModelEvent[] = [];
  readonly leases = new Map<number, Set<string>>();

  current(): Map<string, ModelKv> {
    return this.states.get(this.revision)!;
  }

  /** Keys in [key, end) (or the single key) live at revision, sorted. */
  range(key: string, end: string | undefined, revision: number): ModelKv[] {
    const state = this.states.get(revision)!;
    return [...state.values()]
      .filter((kv) => (end === undefined ? kv.key === key : kv.key >= key && kv.key < end))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  /** Applies a batch of writes as one revision; returns false if it wrote nothing. */
  write(changes: { key: string; value?: string; lease?: number }[]): boolean {
    if (changes.length === 0) return false;
    const rev = this.revision + 1;
    const next = new Map(this.current());
    for (const c of changes) {
      const prev = next.get(c.key);
      if (c.value === undefined) {
        if (prev === undefined) continue;
        next.delete(c.key);
        if (prev.lease !== 0) this.leases.get(prev.lease)?.delete(c.key);
        this.events.push({
          type: "delete",
          key: c.key,
          revision: rev,
          kv: undefined,
          prevKv: prev,
        });
      } else {
        const kv: ModelKv = {
          key: c.key,
          createRevision: prev?.createRevision ?? rev,
          modRevision: rev,
          version: (prev?.version ?? 0) + 1,
          value: c.value,
          lease: c.lease ?? 0,
        };
        next.set(c.key, kv);
        if (prev !== undefined && prev.lease !== 0) this.leases.get(prev.lease)?.delete(c.key);
        if (kv.lease !== 0) this.leases.get(kv.lease)?.add(c.key);
        this.events.push({ type: "put", key: c.key, revision: rev, kv, prevKv: prev });
      }
    }
    if (!this.events.some((e) => e.revision === rev)) return false;
    this.revision = rev;
    this.states.set(rev, next);
    return true;
  }
}
