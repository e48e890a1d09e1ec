/**
 * `npm run bench -- client [--gets N] [--puts N] [--inflight N]`: the SDK's
 * cost per call against a raw `node:http` loop (keep-alive Agent, same JSON
 * bodies) as the floor. A three-node in-memory cluster serves in a child
 * process so this process's CPU is the client's alone. Serializable gets and
 * puts of 64-byte values go to the leader, N of each at a fixed number in
 * flight; prints ops/s and client and server CPU per op, then one JSON line.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import { ConclaveClient } from "../src/client/index.js";
import { putJson, rangeJson } from "../src/client/kv-wire.js";
import { type BenchCluster, startBenchCluster } from "./_conclave-cluster.js";
import { cpuSeconds } from "./support/proc-stats.js";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(value) || value <= 0) {
    console.error(`--${name} takes a positive integer`);
    process.exit(2);
  }
  return value;
}

const getCount = flag("gets", 20_000);
const putCount = flag("puts", 5_000);
const inFlight = flag("inflight", 64);
/** Each phase stops here even if it has not done its count. */
const PHASE_LIMIT_MS = 60_000;
const VALUE = "v".repeat(64);

interface PhaseResult {
  readonly name: string;
  readonly ops: number;
  readonly opsPerSec: number;
  readonly clientCpuMsPerOp: number;
  readonly serverCpuMsPerOp: number;
}

async function phase(name: string, count: number, op: (i: number) => Promise<unknown>) {
  const serverPid = cluster?.pid ?? 0;
  let next = 0;
  const stopAtMs = Date.now() + PHASE_LIMIT_MS;
  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = cpuSeconds(serverPid);
  const startMs = performance.now();
  const worker = async () => {
    while (next < count && Date.now() < stopAtMs) await op(next++);
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const elapsedMs = performance.now() - startMs;
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpuMs = (cpuSeconds(serverPid) - serverCpuBefore) * 1000;
  const result: PhaseResult = {
    name,
    ops: next,
    opsPerSec: Math.round((next / elapsedMs) * 1000),
    clientCpuMsPerOp: Number(((cpu.user + cpu.system) / 1000 / next).toFixed(3)),
    serverCpuMsPerOp: Number((serverCpuMs / next).toFixed(3)),
  };
  console.log(
    `${name.padEnd(10)} ${String(result.ops).padStart(7)} ops ${String(result.opsPerSec).padStart(7)} ops/s ${result.clientCpuMsPerOp.toFixed(3).padStart(7)} ms client CPU/op ${result.serverCpuMsPerOp.toFixed(3).padStart(7)} ms server CPU/op`,
  );
  return result;
}

/** A raw keep-alive POST of a JSON body; resolves when the whole answer was read. */
function rawPost(
  agent: http.Agent,
  url: URL,
  path: string,
  body: string,
  extraHeaders: Record<string, string> = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname: url.hostname,
        port: url.port,
        path,
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          ...extraHeaders,
        },
      },
      (res) => {
        res.on("data", () => {});
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(path))));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

let cluster: BenchCluster | undefined;
let client: ConclaveClient | undefined;
const agent = new http.Agent({ keepAlive: true });
try {
  cluster = await startBenchCluster();
  client = new ConclaveClient({ endpoints: cluster.endpoints, timeoutMs: 10_000 });
  // A put finds the leader; the client then prefers it for every call.
  await client.put("bench/key", VALUE);
  const leader = new URL(client.preferredEndpoint);
  const sdk = client;
  const getBody = JSON.stringify(rangeJson({ key: "bench/key", serializable: true }));
  const putBody = (i: number) => JSON.stringify(putJson(`bench/${i % 1000}`, VALUE, {}));
  // The floor carries an idempotency key too, so the server does the same work for both.
  const rawPut = (i: number) =>
    rawPost(agent, leader, "/v3/kv/put", putBody(i), {
      "idempotency-key": randomBytes(16).toString("base64url"),
    });
  // Warm both paths (JIT, sockets, the server's caches) before measuring.
  await phase("warm-up", 4000, (i) =>
    i % 2 === 0
      ? sdk.get("bench/key", { serializable: true })
      : rawPost(agent, leader, "/v3/kv/range", getBody),
  );
  await phase("warm-up", 2000, (i) =>
    i % 2 === 0 ? sdk.put(`bench/${i % 1000}`, VALUE) : rawPut(i),
  );
  const results = [
    await phase("raw get", getCount, () => rawPost(agent, leader, "/v3/kv/range", getBody)),
    await phase("sdk get", getCount, () => sdk.get("bench/key", { serializable: true })),
    await phase("raw put", putCount, rawPut),
    await phase("sdk put", putCount, (i) => sdk.put(`bench/${i % 1000}`, VALUE)),
  ];
  console.log(JSON.stringify({ bench: "client", inFlight, results }));
} finally {
  agent.destroy();
  await client?.close();
  await cluster?.stop();
}
