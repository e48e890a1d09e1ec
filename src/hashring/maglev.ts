/**
 * Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software
 * Network Load Balancer", NSDI 2016, section 3.4). Each node walks its own
 * permutation of a prime-sized lookup table; nodes take turns claiming their
 * next free slot until the table is full. A lookup is one table read. Load is
 * nearly perfectly even, and a change moves somewhat more than the minimum
 * (the paper's trade-off for even load).
 *
 * Weights follow the paper's suggestion of letting heavier nodes take turns
 * more often: each round a node earns weight / maxWeight credit and claims a
 * slot whenever it holds a whole credit.
 */
import { EmptyRingError, InvalidOptionError, TableSizeNotPrimeError } from "./errors.js";
import type { HashKey } from "./keys.js";
import { murmur3Key, murmur3KeyI32 } from "./murmur3.js";
import { compareIds, NodeList, type NodeSpec } from "./nodes.js";
import { isPrime, nextPrimeAbove } from "./primes.js";
import { checkReplicaCount, SeenMarks } from "./replicas.js";
import { CONFIG_FORMAT, type MaglevConfig, type Placement } from "./types.js";

/** Largest table accepted (2^26 slots, 256 MiB of Int32): bounds memory and build time. */
export const MAX_TABLE_SIZE = 1 << 26;
/** Automatic size: at least this many slots per node. */
export const AUTO_SLOTS_PER_NODE = 100;
/**
 * Automatic size: at least this many slots per node per node, i.e. 4 x n^2
 * slots. A change moves about 1 + 1.9 x n / sqrt(tableSize) times the ideal
 * fraction of keys (measured from 10 to 1,000 nodes), so a table that keeps
 * that under 2x must grow with the square of the node count; 100 x n alone
 * gives 6.7x at 1,000 nodes. See docs/hashring.md.
 */
export const AUTO_SLOTS_PER_NODE_SQUARED = 4;
/** The largest automatic table (2^22 slots, 16 MiB): past ~1,000 nodes moves exceed 2x again. */
export const AUTO_MAX_TABLE_SIZE = 1 << 22;
/** An automatic table is regrown once it is smaller than this fraction of the size it would get now. */
export const AUTO_REGROW_FRACTION = 0.5;

/** The slots an automatic table aims for with `nodeCount` nodes (before rounding up to a prime). */
export function autoTableSlots(nodeCount: number): number {
  return Math.min(
    Math.max(AUTO_SLOTS_PER_NODE * nodeCount, AUTO_SLOTS_PER_NODE_SQUARED * nodeCount ** 2),
    AUTO_MAX_TABLE_SIZE,
  );
}

const OFFSET_SEED = 0x6d61676c;
const SKIP_SEED = 0x65763031;

export interface MaglevOptions {
  /**
   * A prime table size, fixed for the table's life. Without it the size is
   * the smallest prime above max(100 x n, 4 x n^2) slots for n nodes (at most
   * 2^22) when the table is first built, and is kept while nodes change (so
   * changes stay small) until it is below half of what the node count would
   * get now, when it is regrown the same way (which remaps most keys).
   */
  readonly tableSize?: number;
}

export function validateTableSize(value: unknown): number {
  if (
    typeof value !== "number" ||
    !Number.isInteger(value) ||
    value < 2 ||
    value > MAX_TABLE_SIZE
  ) {
    throw new InvalidOptionError(
      `maglev tableSize must be a whole number from 2 to ${MAX_TABLE_SIZE}, got ${String(value)}`,
    );
  }
  if (!isPrime(value)) throw new TableSizeNotPrimeError(value);
  return value;
}

export class MaglevHash implements Placement {
  readonly algorithm = "maglev" as const;
  private readonly list: NodeList = new NodeList();
  private size_: number | null;
  private readonly autoSize: boolean;
  private table = new Int32Array(0);
  /** Repopulated at the next lookup after a change, so a batch of changes costs one build. */
  private stale = false;
  private nodesWithSlots = 0;
  private readonly seen = new SeenMarks();
  /**
   * A restored automatic size is kept until the nodes change, even if this
   * version's sizing rule would choose another: restoring must never remap.
   */
  private keepRestoredSize = false;

  constructor(options: MaglevOptions = {}) {
    if (options.tableSize === undefined) {
      this.size_ = null;
      this.autoSize = true;
    } else {
      this.size_ = validateTableSize(options.tableSize);
      this.autoSize = false;
    }
  }

  get size(): number {
    return this.list.size;
  }

  /** The current lookup table size, or null before the first automatic sizing. */
  get tableSize(): number | null {
    this.current();
    return this.size_;
  }

  addNode(id: string, weight = 1): void {
    this.list.checkAdd(id, weight);
    if (!this.autoSize && this.list.size + 1 > this.size_!) {
      throw new InvalidOptionError(
        `maglev table of size ${this.size_} cannot hold ${this.list.size + 1} nodes`,
      );
    }
    this.list.push(id, weight);
    this.stale = true;
    this.keepRestoredSize = false;
  }

  removeNode(id: string): void {
    this.list.remove(id);
    this.stale = true;
    this.keepRestoredSize = false;
  }

  hasNode(id: string): boolean {
    return this.list.has(id);
  }

  nodes(): NodeSpec[] {
    return this.list.specs();
  }

  get(key: HashKey): string {
    const hash = murmur3KeyI32(key, 0) >>> 0;
    if (this.list.size === 0) throw new EmptyRingError("get");
    const table = this.stale ? this.current() : this.table;
    return this.list.ids[table[hash % table.length]!]!;
  }

  /** The owner, then the next distinct nodes met walking the table from the key's slot. */
  getN(key: HashKey, n: number): string[] {
    const hash = murmur3Key(key, 0);
    const table = this.current();
    const count = checkReplicaCount(n, this.nodesWithSlots, this.list.size);
    const { marks, stamp } = this.seen.next(this.list.size);
    const chosen: number[] = [];
    let slot = hash % table.length;
    for (let step = 0; step < table.length && chosen.length < count; step++) {
      const node = table[slot]!;
      if (marks[node] !== stamp) {
        marks[node] = stamp;
        chosen.push(node);
      }
      slot = slot + 1 === table.length ? 0 : slot + 1;
    }
    return chosen.map((i) => this.list.ids[i]!);
  }

  /** Slots each node owns in the lookup table. */
  slotCounts(): Map<string, number> {
    const counts = new Map<string, number>(this.list.ids.map((id) => [id, 0]));
    for (const node of this.current()) {
      const id = this.list.ids[node]!;
      counts.set(id, counts.get(id)! + 1);
    }
    return counts;
  }

  get byteLength(): number {
    return this.current().byteLength;
  }

  toJSON(): MaglevConfig {
    this.current();
    return {
      format: CONFIG_FORMAT,
      algorithm: "maglev",
      tableSize: this.size_,
      autoSize: this.autoSize,
      nodes: this.list.specs(),
    };
  }

  static fromJSON(config: MaglevConfig): MaglevHash {
    const maglev: MaglevHash = config.autoSize
      ? new MaglevHash()
      : new MaglevHash({ tableSize: config.tableSize ?? Number.NaN });
    if (config.autoSize && config.tableSize !== null) {
      maglev.size_ = validateTableSize(config.tableSize);
      maglev.keepRestoredSize = true;
    }
    for (const node of config.nodes) {
      maglev.list.checkAdd(node.id, node.weight);
      maglev.list.push(node.id, node.weight);
    }
    if (!maglev.autoSize && maglev.list.size > maglev.size_!) {
      throw new InvalidOptionError(
        `maglev table of size ${maglev.size_} cannot hold ${maglev.list.size} nodes`,
      );
    }
    maglev.stale = true;
    return maglev;
  }

  private current(): Int32Array {
    if (this.stale) {
      this.populate();
      this.stale = false;
    }
    return this.table;
  }

  private chooseSize(): number | null {
    const n = this.list.size;
    if (!this.autoSize || n === 0 || this.keepRestoredSize) return this.size_;
    const slots = autoTableSlots(n);
    if (this.size_ === null || this.size_ < AUTO_REGROW_FRACTION * slots) {
      return nextPrimeAbove(slots);
    }
    return this.size_;
  }

  /** The paper's population loop (Pseudocode 1), with weighted turns. */
  private populate(): void {
    this.size_ = this.chooseSize();
    const n = this.list.size;
    if (n === 0 || this.size_ === null) {
      this.table = new Int32Array(0);
      this.nodesWithSlots = 0;
      return;
    }
    const m = this.size_;
    const ids = this.list.ids;
    // Turn order by id, so the table does not depend on insertion order.
    const order = ids.map((_, i) => i).sort((a, b) => compareIds(ids[a]!, ids[b]!));
    const skip = new Float64Array(n);
    const next = new Float64Array(n);
    const share = new Float64Array(n);
    const credit = new Float64Array(n);
    const maxWeight = Math.max(...this.list.weights);
    for (let i = 0; i < n; i++) {
      next[i] = murmur3Key(ids[i]!, OFFSET_SEED) % m;
      skip[i] = (murmur3Key(ids[i]!, SKIP_SEED) % (m - 1)) + 1;
      share[i] = this.list.weights[i]! / maxWeight;
    }
    const table = new Int32Array(m);
    // Probing reads a bitmap of taken slots (m / 8 bytes) rather than the
    // table (4 x m bytes): near the end most probes hit taken slots, and a
    // bitmap a thirty-second of the size stays in cache. Same result, faster.
    const taken = new Uint32Array((m >>> 5) + 1);
    let filled = 0;
    while (filled < m) {
      for (const i of order) {
        credit[i]! += share[i]!;
        if (credit[i]! < 1) continue;
        credit[i]! -= 1;
        let slot = next[i]!;
        const step = skip[i]!;
        while ((taken[slot >>> 5]! & (1 << (slot & 31))) !== 0) {
          slot = slot + step >= m ? slot + step - m : slot + step;
        }
        taken[slot >>> 5]! |= 1 << (slot & 31);
        table[slot] = i;
        next[i] = slot + step >= m ? slot + step - m : slot + step;
        if (++filled === m) break;
      }
    }
    this.table = table;
    const owns = new Uint8Array(n);
    for (const node of table) owns[node] = 1;
    this.nodesWithSlots = owns.reduce((sum, v) => sum + v, 0);
  }
}
