/**
 * `npm run bench -- kv-store [keys]`: memory and speed of the kv state machine.
 * Heap + array-buffer bytes per key for N keys (default 100,000) with
 * 100-byte values, measured around forced GCs, side by side with the floor a
 * plain Map<string, Uint8Array> of the same data costs; also with three
 * retained revisions per key; apply rate for typed and encoded puts; point
 * reads; snapshot size and time. Prints a table, then one JSON line.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { encodeCommand, KvStore } from "../src/kv/index.js";

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

const KEY_COUNT = Number(process.argv[2] ?? 100_000);
const VALUE_BYTES = 100;
const SEED = 12345;

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = mulberry32(SEED);
const keys: Uint8Array[] = [];
for (let i = 0; i < KEY_COUNT; i++)
  keys.push(Buffer.from(`/registry/pods/p${String(i).padStart(7, "0")}`));
for (let i = keys.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [keys[i], keys[j]] = [keys[j]!, keys[i]!];
}
const value = new Uint8Array(VALUE_BYTES).fill(0x61);

function usedBytes(): number {
  collect();
  collect();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function measure<T>(build: () => T): { bytes: number; ms: number; held: T } {
  const before = usedBytes();
  const t0 = performance.now();
  const held = build();
  const ms = performance.now() - t0;
  return { bytes: usedBytes() - before, ms, held };
}

const peer = measure(() => {
  const m = new Map<string, Uint8Array>();
  for (const k of keys) m.set(Buffer.from(k).toString("latin1"), Uint8Array.from(value));
  return m;
});
const peerPerKey = peer.bytes / KEY_COUNT;
peer.held.clear();

let index = 0;
const single = measure(() => {
  const s = new KvStore();
  for (const k of keys) s.apply(++index, { type: "put", key: k, value });
  return s;
});
const store = single.held;
const perKey = single.bytes / KEY_COUNT;

const t0 = performance.now();
for (const k of keys) store.range({ key: k });
const readMs = performance.now() - t0;

const beforeHistory = usedBytes();
const t1 = performance.now();
for (let round = 0; round < 2; round++) {
  for (const k of keys) store.apply(++index, { type: "put", key: k, value });
}
const historyMs = performance.now() - t1;
const perExtraRevision = (usedBytes() - beforeHistory) / (2 * KEY_COUNT);

const encoded = keys.map((k) => encodeCommand({ type: "put", key: k, value }));
const t2 = performance.now();
for (const data of encoded) store.apply({ index: ++index, term: 1, data });
const encodedMs = performance.now() - t2;

store.apply(++index, { type: "compact", revision: store.revision });
const t3 = performance.now();
let snapshotBytes = 0;
const chunks: Uint8Array[] = [];
for await (const c of store.snapshot()) {
  snapshotBytes += c.byteLength;
  chunks.push(c);
}
const snapshotMs = performance.now() - t3;
const t4 = performance.now();
const restored = new KvStore();
await restored.restore(
  (async function* () {
    yield* chunks;
  })(),
);
const restoreMs = performance.now() - t4;
if (restored.revision !== store.revision) throw new Error("restore lost revisions");

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const rows = [
  ["Map<string, Uint8Array> (peer floor), bytes/key", peerPerKey.toFixed(0)],
  ["KvStore, 1 revision per key, bytes/key", perKey.toFixed(0)],
  ["KvStore, each further retained revision, bytes", perExtraRevision.toFixed(0)],
  ["KvStore overhead over the Map floor, bytes/key", (perKey - peerPerKey).toFixed(0)],
  ["puts/s (typed, new keys, shuffled)", rate(KEY_COUNT, single.ms)],
  ["puts/s (typed, existing keys)", rate(2 * KEY_COUNT, historyMs)],
  ["puts/s (encoded Raft entries)", rate(KEY_COUNT, encodedMs)],
  ["Map.set/s (peer)", rate(KEY_COUNT, peer.ms)],
  ["point reads/s", rate(KEY_COUNT, readMs)],
  ["snapshot bytes (after compaction)", snapshotBytes],
  ["snapshot ms / restore ms", `${snapshotMs.toFixed(0)} / ${restoreMs.toFixed(0)}`],
];
console.log(`kv: ${KEY_COUNT} keys, ${VALUE_BYTES}-byte values, node ${process.version}`);
for (const [name, v] of rows) console.log(`  ${String(name).padEnd(52)} ${v}`);
console.log(
  JSON.stringify({
    bench: "kv",
    keys: KEY_COUNT,
    valueBytes: VALUE_BYTES,
    seed: SEED,
    node: process.version,
    peerMapBytesPerKey: Math.round(peerPerKey),
    kvBytesPerKey: Math.round(perKey),
    kvBytesPerExtraRevision: Math.round(perExtraRevision),
    putsPerSecNewKeys: rate(KEY_COUNT, single.ms),
    putsPerSecExistingKeys: rate(2 * KEY_COUNT, historyMs),
    putsPerSecEncoded: rate(KEY_COUNT, encodedMs),
    peerMapSetsPerSec: rate(KEY_COUNT, peer.ms),
    pointReadsPerSec: rate(KEY_COUNT, readMs),
    snapshotBytes,
    snapshotMs: Math.round(snapshotMs),
    restoreMs: Math.round(restoreMs),
  }),
);
