/**
 * `npm run bench -- hashring [keys]`: every conclave/hashring algorithm side by
 * side with the npm `hashring` package, for 10 and 1,000 nodes over 1,000,000
 * seeded random keys: lookups/s, max/mean load, the fraction of keys moved
 * when one node is added and when one is removed (ideal 1/(n+1) and 1/n),
 * and the memory the structure holds (heap + array buffers, measured around a
 * forced GC). Prints a table, the targets, then one JSON line with everything.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import {
  BoundedLoadPlacement,
  createPlacement,
  DEFAULT_EPSILON,
  DEFAULT_POINTS_PER_NODE,
  type Placement,
  restore,
} from "../src/hashring/index.js";

type Gc = () => void;
const gc = (globalThis as { gc?: Gc }).gc;
if (gc === undefined) {
  // Memory is measured around forced collections, which need --expose-gc.
  const child = spawnSync(
    process.execPath,
    ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: "inherit" },
  );
  process.exit(child.status ?? 1);
}
const collect: Gc = gc;

interface NpmHashRing {
  get(key: string): string | undefined;
}
const NpmHashRingClass = createRequire(import.meta.url)("hashring") as new (
  servers: string[],
) => NpmHashRing;

const KEY_COUNT = Number(process.argv[2] ?? 1_000_000);
if (!Number.isInteger(KEY_COUNT) || KEY_COUNT < 1000 || KEY_COUNT > 10_000_000) {
  console.error("usage: npm run bench -- hashring [keys from 1000 to 10000000]");
  process.exit(2);
}
const NODE_COUNTS = [10, 1000];
const SEED = 20240601;
/** Each timed pass is repeated while under this budget (at most 3), best kept. */
const TIMING_BUDGET_MS = 1500;
/** Slots per node for the extra, larger maglev table row. */
const BIG_MAGLEV_SLOTS_PER_NODE = 3000;

function nextPrimeAbove(value: number): number {
  const isPrime = (v: number): boolean => {
    for (let d = 2; d * d <= v; d++) if (v % d === 0) return false;
    return v > 1;
  };
  let candidate = value + 1;
  while (!isPrime(candidate)) candidate++;
  return candidate;
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function randomKeys(count: number): string[] {
  const next = splitmix32(SEED);
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
  const keys = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    let key = "";
    for (let c = 0; c < 16; c++) key += alphabet[next() & 63];
    keys[i] = key;
  }
  return keys;
}

function nodeIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `10.0.${i >> 8}.${i & 255}:11211`);
}

function heapBytes(): number {
  collect();
  collect();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** Builds a structure and reports the bytes it holds (heap delta around forced GCs). */
function measureMemory<T>(build: () => T): { value: T; bytes: number } {
  const before = heapBytes();
  const value = build();
  const bytes = heapBytes() - before;
  return { value, bytes: Math.max(0, bytes) };
}

/** Looks every key up; returns owners and the best lookups/s over up to three passes. */
function timeLookups(
  get: (key: string) => string,
  keys: string[],
): { owners: string[]; perSecond: number } {
  const owners = new Array<string>(keys.length);
  // An untimed pass over a slice first, so every subject is measured after JIT warm-up.
  for (let i = 0; i < Math.min(keys.length, 50_000); i++) owners[i] = get(keys[i]!);
  let best = Number.POSITIVE_INFINITY;
  const start = performance.now();
  for (let pass = 0; pass < 3; pass++) {
    const t0 = performance.now();
    for (let i = 0; i < keys.length; i++) owners[i] = get(keys[i]!);
    best = Math.min(best, performance.now() - t0);
    if (performance.now() - start > TIMING_BUDGET_MS) break;
  }
  return { owners, perSecond: keys.length / (best / 1000) };
}

function lookupAll(get: (key: string) => string, keys: string[]): string[] {
  const owners = new Array<string>(keys.length);
  for (let i = 0; i < keys.length; i++) owners[i] = get(keys[i]!);
  return owners;
}

function maxOverMean(owners: string[], nodeCount: number): number {
  const counts = new Map<string, number>();
  for (const owner of owners) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  return Math.max(...counts.values()) / (owners.length / nodeCount);
}

/** Fraction of keys whose owner changed, and of those, how many went anywhere unexpected. */
function compare(
  before: string[],
  after: string[],
  expected: (from: string, to: string) => boolean,
): { moved: number; stray: number } {
  let moved = 0;
  let stray = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] !== after[i]) {
      moved++;
      if (!expected(before[i]!, after[i]!)) stray++;
    }
  }
  return { moved: moved / before.length, stray: stray / before.length };
}

interface Row {
  nodes: number;
  algorithm: string;
  lookupsPerSecond: number;
  maxOverMean: number;
  movedOnAdd: number;
  idealOnAdd: number;
  strayOnAdd: number;
  movedOnRemove: number;
  idealOnRemove: number;
  strayOnRemove: number;
  bytes: number;
  /** Bounded loads only: keys moved per key released (to keep the bound), over 10% of keys. */
  movesPerRelease?: number;
  note?: string;
}

const ADDED = "10.9.9.9:11211";

type Lookup = (key: string) => string;

type Algorithm = "ring" | "ketama" | "jump" | "rendezvous" | "maglev";

function benchPlacement(
  algorithm: Algorithm,
  ids: string[],
  keys: string[],
  tableSize?: number,
): Row {
  const { value: placement, bytes } = measureMemory(() => {
    const p =
      tableSize === undefined
        ? createPlacement({ algorithm, nodes: ids })
        : createPlacement({ algorithm: "maglev", tableSize, nodes: ids });
    p.get("warm-up");
    return p;
  });
  const grown: Placement = restore(placement.toJSON());
  grown.addNode(ADDED);
  // Jump can only drop its last node; the others lose one from the middle.
  const removed = algorithm === "jump" ? ids.at(-1)! : ids[ids.length >> 1]!;
  const shrunk = restore(placement.toJSON());
  shrunk.removeNode(removed);
  return movementRow(
    tableSize === undefined ? algorithm : `maglev M=${tableSize}`,
    ids,
    keys,
    bytes,
    { now: (k) => placement.get(k), grown: (k) => grown.get(k), shrunk: (k) => shrunk.get(k) },
    removed,
  );
}

/** Lookup speed, balance and the keys that move when a node is added or `removed`. */
function movementRow(
  algorithm: string,
  ids: string[],
  keys: string[],
  bytes: number,
  lookup: { now: Lookup; grown: Lookup; shrunk: Lookup },
  removed: string,
): Row {
  const { owners, perSecond } = timeLookups(lookup.now, keys);
  const afterAdd = compare(owners, lookupAll(lookup.grown, keys), (_, to) => to === ADDED);
  const afterRemove = compare(owners, lookupAll(lookup.shrunk, keys), (from) => from === removed);
  return {
    nodes: ids.length,
    algorithm,
    lookupsPerSecond: perSecond,
    maxOverMean: maxOverMean(owners, ids.length),
    movedOnAdd: afterAdd.moved,
    idealOnAdd: 1 / (ids.length + 1),
    strayOnAdd: afterAdd.stray,
    movedOnRemove: afterRemove.moved,
    idealOnRemove: 1 / ids.length,
    strayOnRemove: afterRemove.stray,
    bytes,
  };
}

function benchNpm(ids: string[], keys: string[]): Row {
  const { value: ring, bytes } = measureMemory(() => {
    const r = new NpmHashRingClass(ids);
    r.get("warm-up");
    return r;
  });
  const grown = new NpmHashRingClass([...ids, ADDED]);
  const removed = ids[ids.length >> 1]!;
  const shrunk = new NpmHashRingClass(ids.filter((id) => id !== removed));
  return movementRow(
    "npm hashring",
    ids,
    keys,
    bytes,
    { now: (k) => ring.get(k)!, grown: (k) => grown.get(k)!, shrunk: (k) => shrunk.get(k)! },
    removed,
  );
}

function benchBounded(ids: string[], keys: string[]): Row {
  const { value: placement, bytes } = measureMemory(() => {
    const p = new BoundedLoadPlacement({ eps: DEFAULT_EPSILON });
    for (const id of ids) p.addNode(id);
    for (const key of keys) p.place(key);
    return p;
  });
  const { owners, perSecond } = timeLookups((k) => placement.get(k), keys);
  const ratio = maxOverMean(owners, ids.length);
  // Each change reports exactly the keys it moved; count them against all keys.
  const addMoves = placement.addNode(ADDED);
  const strayAdd = addMoves.filter((m) => m.to !== ADDED).length;
  const removeMoves = placement.removeNode(ADDED);
  const strayRemove = removeMoves.filter((m) => m.from !== ADDED).length;
  const released = Math.floor(keys.length / 10);
  let releaseMoves = 0;
  for (let i = 0; i < released; i++) releaseMoves += placement.release(keys[i]!).length;
  return {
    nodes: ids.length,
    algorithm: `bounded eps=${DEFAULT_EPSILON}`,
    lookupsPerSecond: perSecond,
    maxOverMean: ratio,
    movedOnAdd: addMoves.length / keys.length,
    idealOnAdd: 1 / (ids.length + 1),
    strayOnAdd: strayAdd / keys.length,
    movedOnRemove: removeMoves.length / keys.length,
    idealOnRemove: 1 / (ids.length + 1),
    strayOnRemove: strayRemove / keys.length,
    bytes,
    movesPerRelease: releaseMoves / released,
    note: "lookups are reads of placed keys; remove takes the added node back out",
  };
}

function ketamaAgreement(ids: string[], keys: string[]): number {
  const ours = createPlacement({ algorithm: "ketama", nodes: ids });
  const npm = new NpmHashRingClass(ids);
  let same = 0;
  for (const key of keys) if (ours.get(key) === npm.get(key)) same++;
  return same / keys.length;
}

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
const rate = (x: number): string =>
  x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(0)}k`;
const mib = (x: number): string => `${(x / 1048576).toFixed(2)} MiB`;

const keys = randomKeys(KEY_COUNT);
const rows: Row[] = [];
const agreement: Record<string, number> = {};
for (const n of NODE_COUNTS) {
  const ids = nodeIds(n);
  rows.push(benchNpm(ids, keys));
  for (const algorithm of ["ring", "ketama", "jump", "rendezvous", "maglev"] as const) {
    rows.push(benchPlacement(algorithm, ids, keys));
  }
  // Maglev's extra movement shrinks as the table grows; show a larger table too.
  rows.push(benchPlacement("maglev", ids, keys, nextPrimeAbove(BIG_MAGLEV_SLOTS_PER_NODE * n)));
  rows.push(benchBounded(ids, keys));
  agreement[String(n)] = ketamaAgreement(ids, keys);
  agreement[String(n + 1)] = ketamaAgreement([...ids, ADDED], keys);
}

const header = [
  "nodes",
  "algorithm",
  "lookups/s",
  "x npm",
  "max/mean",
  "moved +1 (ideal)",
  "moved -1 (ideal)",
  "stray +1/-1",
  "memory",
];
const table = rows.map((r) => {
  const npm = rows.find((x) => x.nodes === r.nodes && x.algorithm === "npm hashring")!;
  return [
    String(r.nodes),
    r.algorithm,
    rate(r.lookupsPerSecond),
    `${(r.lookupsPerSecond / npm.lookupsPerSecond).toFixed(1)}x`,
    r.maxOverMean.toFixed(4),
    `${pct(r.movedOnAdd)} (${pct(r.idealOnAdd)})`,
    `${pct(r.movedOnRemove)} (${pct(r.idealOnRemove)})`,
    `${pct(r.strayOnAdd)}/${pct(r.strayOnRemove)}`,
    mib(r.bytes),
  ];
});
const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => row[c]!.length)));
const line = (cells: string[]): string =>
  cells.map((cell, c) => cell.padEnd(widths[c]!)).join("  ");
console.log(
  `conclave/hashring vs npm hashring — ${KEY_COUNT.toLocaleString("en")} keys, seed ${SEED}`,
);
console.log(`default ring: ${DEFAULT_POINTS_PER_NODE} points per node; bounded loads on that ring`);
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const row of table) console.log(line(row));
for (const r of rows.filter((x) => x.movesPerRelease !== undefined)) {
  console.log(
    `${r.algorithm}, ${r.nodes} nodes: releasing 10% of the keys moved ${r.movesPerRelease!.toFixed(4)} other keys per release; placing moves none`,
  );
}
console.log(
  `ketama == npm hashring mapping: ${Object.entries(agreement)
    .map(([n, share]) => `${n} servers ${pct(share)}`)
    .join(", ")} (npm rounds points per server in double precision; C and conclave in float)`,
);

const row = (n: number, algorithm: string): Row =>
  rows.find((r) => r.nodes === n && r.algorithm === algorithm)!;
const within = (value: number, ideal: number, tolerance: number): boolean =>
  Math.abs(value - ideal) <= tolerance * ideal;
const targets: { target: string; measured: string; met: boolean }[] = [];
const npm10 = row(10, "npm hashring");
const ring10 = row(10, "ring");
targets.push({
  target: "default ring >= 20x npm hashring lookups/s at 10 nodes",
  measured: `${(ring10.lookupsPerSecond / npm10.lookupsPerSecond).toFixed(1)}x`,
  met: ring10.lookupsPerSecond >= 20 * npm10.lookupsPerSecond,
});
targets.push({
  target: "default ring max/mean <= 1.05 at 10 nodes",
  measured: ring10.maxOverMean.toFixed(4),
  met: ring10.maxOverMean <= 1.05,
});
for (const n of NODE_COUNTS) {
  const ketama = row(n, "ketama");
  const npm = row(n, "npm hashring");
  targets.push({
    target: `ketama >= 3x npm hashring lookups/s with the same mapping (${n} nodes)`,
    measured: `${(ketama.lookupsPerSecond / npm.lookupsPerSecond).toFixed(1)}x, same mapping ${pct(agreement[String(n)]!)}`,
    met: ketama.lookupsPerSecond >= 3 * npm.lookupsPerSecond && agreement[String(n)] === 1,
  });
  for (const algorithm of ["ring", "jump", "rendezvous"]) {
    const r = row(n, algorithm);
    const removeOk = within(r.movedOnRemove, r.idealOnRemove, 0.1);
    targets.push({
      target: `${algorithm} moved fraction within ±10% of ideal (${n} nodes)`,
      measured: `+1 ${pct(r.movedOnAdd)} vs ${pct(r.idealOnAdd)}, -1 ${pct(r.movedOnRemove)} vs ${pct(r.idealOnRemove)}`,
      met: within(r.movedOnAdd, r.idealOnAdd, 0.1) && removeOk,
    });
  }
  const maglev = row(n, "maglev");
  targets.push({
    target: `maglev moved fraction <= 2x ideal (${n} nodes)`,
    measured: `+1 ${(maglev.movedOnAdd / maglev.idealOnAdd).toFixed(2)}x, -1 ${(maglev.movedOnRemove / maglev.idealOnRemove).toFixed(2)}x`,
    met:
      maglev.movedOnAdd <= 2 * maglev.idealOnAdd &&
      maglev.movedOnRemove <= 2 * maglev.idealOnRemove,
  });
  const bounded = row(n, `bounded eps=${DEFAULT_EPSILON}`);
  targets.push({
    target: `bounded loads max/mean <= 1 + eps = ${1 + DEFAULT_EPSILON} (${n} nodes)`,
    measured: bounded.maxOverMean.toFixed(4),
    met: bounded.maxOverMean <= 1 + DEFAULT_EPSILON,
  });
}
console.log("\ntargets");
for (const t of targets)
  console.log(`  ${t.met ? "MET   " : "MISSED"}  ${t.target}: ${t.measured}`);

console.log(
  JSON.stringify({
    bench: "hashring",
    keys: KEY_COUNT,
    seed: SEED,
    defaultPointsPerNode: DEFAULT_POINTS_PER_NODE,
    node: process.version,
    rows,
    ketamaAgreementWithNpm: agreement,
    targets,
  }),
);
