/**
 * `npm run bench -- raft-node`: 3 `conclave serve` processes on 127.0.0.1
 * (WAL with fsync, TCP transport), 256-byte values written through the HTTP
 * API of the leader. For 1, 16, 64 and 256 writes in flight: committed proposals/s and
 * p50/p99 latency, and CPU seconds per 1,000 commits summed over the three
 * processes; then the time from kill -9 of the leader to the first commit
 * under a new leader. Printed beside the raft-core ceiling; last line JSON.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { ServeCluster } from "../test/server/process/serve-cluster.js";

const LEVELS = [1, 16, 64, 256] as const;
const SECONDS_PER_LEVEL = Number(process.env.RAFT_NODE_BENCH_SECONDS ?? 4);
const VALUE_B64 = Buffer.from("x".repeat(256)).toString("base64");

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return ticks / 100;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const c = new ServeCluster({ size: 3, heartbeatMs: 100, electionMs: 1000 });
  const rows: {
    inFlight: number;
    commitsPerSec: number;
    p50Ms: number;
    p99Ms: number;
    cpuSecPer1000: number;
  }[] = [];
  let failoverMs = Number.NaN;
  try {
    await c.start();
    const leader = await c.waitFor(() => c.leader(), "a leader", 30_000);
    const url = c.member(leader).clientUrl;
    const pids = c.ids.map((id) => c.pid(id)!);
    let seq = 0;
    for (const inFlight of LEVELS) {
      const latencies: number[] = [];
      const cpu0 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
      const started = performance.now();
      const until = started + SECONDS_PER_LEVEL * 1000;
      const worker = async (): Promise<void> => {
        while (performance.now() < until) {
          const s = ++seq;
          const t0 = performance.now();
          const key = Buffer.from(`bench-${s % 1000}`).toString("base64");
          const res = await fetch(`${url}/v3/kv/put`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ key, value: VALUE_B64 }),
          });
          await res.arrayBuffer();
          if (res.status === 200) latencies.push(performance.now() - t0);
        }
      };
      await Promise.all(Array.from({ length: inFlight }, worker));
      const elapsed = (performance.now() - started) / 1000;
      const cpu = pids.reduce((s, p) => s + cpuSeconds(p), 0) - cpu0;
      latencies.sort((a, b) => a - b);
      rows.push({
        inFlight,
        commitsPerSec: Math.round(latencies.length / elapsed),
        p50Ms: Number(percentile(latencies, 0.5).toFixed(2)),
        p99Ms: Number(percentile(latencies, 0.99).toFixed(2)),
        cpuSecPer1000: Number(((cpu / latencies.length) * 1000).toFixed(3)),
      });
    }
    await c.kill(leader);
    const killedAt = performance.now();
    const client = c.client(c.ids.filter((id) => id !== leader));
    try {
      await client.put("after-kill", "1", { timeoutMs: 30_000 });
      failoverMs = Math.round(performance.now() - killedAt);
    } catch {
      // failoverMs stays NaN: no commit within the bound
    } finally {
      await client.close();
    }
  } finally {
    await c.destroy();
  }

  const coreOut = execFileSync(
    process.execPath,
    ["--import", "tsx", new URL("./raft-core.ts", import.meta.url).pathname],
    {
      encoding: "utf8",
    },
  );
  const core = JSON.parse(coreOut.trim().split("\n").at(-1)!) as {
    results: { batch: number; entriesPerSec: number }[];
  };

  console.log(
    "raft node: 3 conclave serve processes on 127.0.0.1, WAL with fsync, TCP, 256-byte values via HTTP put to the leader\n",
  );
  console.log("in flight   commits/s   p50 ms   p99 ms   CPU s per 1000 commits (3 processes)");
  for (const r of rows) {
    console.log(
      `${String(r.inFlight).padStart(9)}   ${String(r.commitsPerSec).padStart(9)}   ${String(r.p50Ms).padStart(6)}   ${String(r.p99Ms).padStart(6)}   ${String(r.cpuSecPer1000).padStart(8)}`,
    );
  }
  console.log(
    `\nleader kill -9 -> first commit under a new leader: ${failoverMs} ms (election timeout 1000 ms; target <= 3000 ms)`,
  );
  console.log("\nraft-core ceiling (in-memory, zero-latency, same machine):");
  for (const r of core.results) console.log(`  batch ${r.batch}: ${r.entriesPerSec} entries/s`);
  console.log(
    JSON.stringify({
      bench: "raft-node",
      valueBytes: 256,
      nodes: 3,
      results: rows,
      failoverMs,
      electionMs: 1000,
      core: core.results,
    }),
  );
}

await main();
