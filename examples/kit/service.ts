/**
 * One instance of the `hello` service: an HTTP server that registers itself
 * (with a health check), greets with the shared config's current greeting,
 * and takes its turn running the singleton job.
 *
 *   tsx examples/kit/service.ts --id hello-1 --port 8081 --endpoints http://127.0.0.1:7579
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ConclaveClient, watchValue } from "conclave/client";
import { LockClient } from "conclave/lock";
import { ConclaveLockBackend } from "conclave/lock/conclave";
import { Registry } from "conclave/registry";
import { startSingletonJob } from "./job.js";
import { exampleFlags, KEYS, SERVICE } from "./options.js";

const flags = exampleFlags(process.argv.slice(2), { port: 8081, id: `hello-${process.pid}` });
const client = new ConclaveClient({ endpoints: flags.endpoints });
const stopping = new AbortController();

let greeting = "hello";
void (async () => {
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  for await (const change of watchValue(client, KEYS.greeting, {
    parse: text,
    signal: stopping.signal,
  })) {
    greeting = change.value ?? "hello";
    console.log(
      `${flags.id}: greeting is now ${JSON.stringify(greeting)} (revision ${change.revision})`,
    );
  }
})();

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (url.pathname === "/health") {
    res.writeHead(200).end("ok");
    return;
  }
  if (url.pathname === "/hello") {
    const user = url.searchParams.get("user") ?? "stranger";
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        instance: flags.id,
        pid: process.pid,
        greeting,
        user,
        message: `${greeting}, ${user}`,
      }),
    );
    return;
  }
  res.writeHead(404).end();
});
await new Promise<void>((resolve) => server.listen(flags.port, "127.0.0.1", resolve));
const port = (server.address() as AddressInfo).port;

const registry = new Registry(client);
const registration = await registry.register({
  service: SERVICE,
  id: flags.id,
  address: "127.0.0.1",
  port,
  metadata: { version: "1" },
  ttlMs: 3000,
  checks: [
    { kind: "http", url: `http://127.0.0.1:${port}/health`, intervalMs: 1000, timeoutMs: 500 },
  ],
});
console.log(
  `${flags.id}: serving on http://127.0.0.1:${port}, registered as ${SERVICE}/${flags.id}`,
);

const locks = new LockClient(new ConclaveLockBackend({ endpoints: flags.endpoints }));
const job = startSingletonJob(client, locks, flags.id);

/** Resigns and deregisters, so others take over at once rather than after the TTL. */
async function shutdown(): Promise<void> {
  stopping.abort();
  const steps = async () => {
    await job.stop();
    await registration.deregister();
    await locks.close();
  };
  try {
    await Promise.race([
      steps(),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), 5000)),
    ]);
  } catch (error) {
    console.error(
      `${flags.id}: could not resign or deregister (${error instanceof Error ? error.message : error}); the leases expire on their own`,
    );
  }
  server.close();
  await client.close();
  process.exit(0);
}
process.once("SIGINT", () => void shutdown());
process.once("SIGTERM", () => void shutdown());
