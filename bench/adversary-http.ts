/**
 * `npm run bench -- adversary-http [--fd-limit N] [--flood N] [--flood-seconds S]
 * [--store-mb M] [--readers R]`: one `conclave serve` member under the client-side
 * attacks of the hardening issue, measured rather than asserted.
 *
 * 1. Flood: the member runs under `prlimit --nofile=N:N` (1,024 by default) with
 *    a snapshot every 100 entries; `--flood` connections (1,100) send half a
 *    request head and are re-opened as the member closes them, for
 *    `--flood-seconds`, while one writer keeps putting. Reported: writes that
 *    succeeded and failed, write latency, snapshots taken, whether the member
 *    lived, and how many refusal lines it logged.
 * 2. Ranges: the store is filled with `--store-mb` of 1 KiB values, then
 *    `--readers` clients each read the whole range at once — first as one
 *    request (answered within the range byte budget), then paged to the end
 *    with the SDK's scan. Reported: the member's peak RSS and each walk's time.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConclaveClient, seededRandom } from "../src/client/index.js";
import { loadOrCreateSecretFile } from "../src/server/runtime/cluster-secret.js";
import { freePort } from "../test/support/free-port.js";
import { serverCommand } from "./kv/conclave-cluster.js";
import { rssBytes } from "./support/proc-stats.js";
import { ProcessGroup } from "./support/processes.js";
import { waitFor } from "./support/wait.js";

const { values: flags } = parseArgs({
  options: {
    "fd-limit": { type: "string", default: "1024" },
    flood: { type: "string", default: "1100" },
    "flood-seconds": { type: "string", default: "10" },
    "store-mb": { type: "string", default: "32" },
    readers: { type: "string", default: "8" },
  },
});
const fdLimit = Number(flags["fd-limit"]);
const floodConnections = Number(flags.flood);
const floodMs = Number(flags["flood-seconds"]) * 1000;
const storeBytes = Number(flags["store-mb"]) * 1024 * 1024;
const readers = Number(flags.readers);
const VALUE_BYTES = 1024;
const PUTS_PER_TXN = 100;

const dir = mkdtempSync(join(tmpdir(), "conclave-adversary-"));
await using group = new ProcessGroup();
const clientPort = await freePort();
const peerPort = await freePort();
const url = `http://127.0.0.1:${clientPort}`;
const logPath = join(dir, "member.log");
// A fresh secret per run, in a 0600 file as `conclave start` keeps one.
const secretFile = join(dir, "cluster-secret");
loadOrCreateSecretFile(secretFile);
const command = serverCommand();
const member = group.start(
  "conclave member",
  "prlimit",
  [
    `--nofile=${fdLimit}:${fdLimit}`,
    "--",
    process.execPath,
    ...command.args,
    "serve",
    `--data-dir=${join(dir, "data")}`,
    `--listen-client=127.0.0.1:${clientPort}`,
    `--listen-peer=127.0.0.1:${peerPort}`,
    "--snapshot-every-entries=100",
    `--cluster-secret-file=${secretFile}`,
  ],
  logPath,
);
const client = new ConclaveClient({
  endpoints: [url],
  random: seededRandom(11),
  timeoutMs: 30_000,
});
await waitFor("the member to serve", 60_000, async () => {
  try {
    await client.put("adversary/ready", "1");
    return true;
  } catch {
    return false;
  }
});

/** The member's snapshot index; retried, since a flood may hold every loopback slot a while. */
async function snapshotIndex(): Promise<number> {
  let index = -1;
  await waitFor("the member's status", 30_000, async () => {
    try {
      const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(5000) });
      index = ((await res.json()) as { snapshotIndex: number }).snapshotIndex;
      return true;
    } catch {
      return false;
    }
  });
  return index;
}

// ---- 1. connection flood ------------------------------------------------------------

let floodOpened = 0;
let floodRunning = true;
const floodSockets = new Set<net.Socket>();
function openSlowClient(): void {
  if (!floodRunning) return;
  floodOpened++;
  const socket = net.connect({ port: clientPort, host: "127.0.0.1" });
  floodSockets.add(socket);
  socket.on("close", () => floodSockets.delete(socket));
  socket.on("error", () => {});
  socket.on("connect", () => socket.write("POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  socket.resume();
  // Whatever the member closes (refused, or timed out) comes straight back, after a breath.
  socket.on("close", () => setTimeout(openSlowClient, 10));
}
const snapshotsBefore = await snapshotIndex();
for (let i = 0; i < floodConnections; i++) openSlowClient();
const latenciesMs: number[] = [];
let writeFailures = 0;
const floodEnds = performance.now() + floodMs;
for (let i = 0; performance.now() < floodEnds; i++) {
  const started = performance.now();
  try {
    await client.put(`adversary/flood/${i}`, "x".repeat(100), { timeoutMs: 5000 });
    latenciesMs.push(performance.now() - started);
  } catch {
    writeFailures++;
  }
}
floodRunning = false;
for (const socket of floodSockets) socket.destroy();
const alive = !member.hasExited();
const snapshotsAfter = alive ? await snapshotIndex() : snapshotsBefore;
const log = readFileSync(logPath, "utf8");
latenciesMs.sort((a, b) => a - b);
const pct = (p: number) => latenciesMs[Math.floor((latenciesMs.length - 1) * p)] ?? Number.NaN;
const flood = {
  fdLimit,
  floodConnections,
  floodOpened,
  writes: latenciesMs.length,
  writeFailures,
  writeP50Ms: Math.round(pct(0.5)),
  writeP99Ms: Math.round(pct(0.99)),
  writeMaxMs: Math.round(pct(1)),
  snapshotIndexAdvanced: snapshotsAfter - snapshotsBefore,
  memberAlive: alive,
  refusalLogLines: log.split("\n").filter((l) => l.includes("connection refused")).length,
  emfile: log.includes("EMFILE"),
};
console.log("flood:", flood);

// ---- 2. big ranges --------------------------------------------------------------------

const keys = Math.ceil(storeBytes / VALUE_BYTES);
const value = "v".repeat(VALUE_BYTES);
for (let i = 0; i < keys; i += PUTS_PER_TXN) {
  const success = [];
  for (let j = i; j < Math.min(keys, i + PUTS_PER_TXN); j++) {
    success.push({
      type: "put" as const,
      key: `adversary/big/${String(j).padStart(8, "0")}`,
      value,
    });
  }
  await client.txn({ success });
}
let peakRssBytes = rssBytes(member.pid);
const sampler = setInterval(() => {
  if (!member.hasExited()) peakRssBytes = Math.max(peakRssBytes, rssBytes(member.pid));
}, 50);
const rssBeforeReads = rssBytes(member.pid);
const range = { key: "adversary/big/", prefix: true } as const;
const oneShot = await Promise.all(
  Array.from({ length: readers }, async () => {
    const started = performance.now();
    const r = await client.range(range);
    return { ms: performance.now() - started, kvs: r.kvs.length, more: r.more };
  }),
);
const walks = await Promise.all(
  Array.from({ length: readers }, async () => {
    const started = performance.now();
    let n = 0;
    for await (const _ of client.scan(range)) n++;
    return { ms: performance.now() - started, kvs: n };
  }),
);
clearInterval(sampler);
const ranges = {
  storeMiB: Math.round(storeBytes / 1024 / 1024),
  keys,
  readers,
  oneRequestKvs: oneShot[0]?.kvs,
  oneRequestMore: oneShot[0]?.more,
  oneRequestMaxMs: Math.round(Math.max(...oneShot.map((r) => r.ms))),
  fullWalkKvs: walks[0]?.kvs,
  fullWalkMaxMs: Math.round(Math.max(...walks.map((w) => w.ms))),
  rssBeforeReadsMiB: Math.round(rssBeforeReads / 1024 / 1024),
  peakRssMiB: Math.round(peakRssBytes / 1024 / 1024),
  memberAlive: !member.hasExited(),
};
console.log("ranges:", ranges);

await client.close();
await group.stopAll();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ flood, ranges }));
