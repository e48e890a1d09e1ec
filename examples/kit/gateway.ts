/**
 * The gateway: routes `/hello?user=U` to a `hello` instance chosen by
 * consistent hashing of the user (bounded loads), from the registry's live
 * set, retrying on the next instance when one fails.
 *
 *   tsx examples/kit/gateway.ts --port 8080 --endpoints http://127.0.0.1:7579
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ConclaveClient } from "conclave/client";
import { createServiceFetch, Registry } from "conclave/registry";
import { exampleFlags, SERVICE } from "./options.js";

const flags = exampleFlags(process.argv.slice(2), { port: 8080, id: "gateway" });
const client = new ConclaveClient({ endpoints: flags.endpoints });
const registry = new Registry(client);
const stopping = new AbortController();
const fetchHello = createServiceFetch({
  snapshots: registry.watch(SERVICE, { signal: stopping.signal }),
  kind: "bounded",
  retries: 2,
});

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (url.pathname !== "/hello") {
    res.writeHead(404).end();
    return;
  }
  const user = url.searchParams.get("user") ?? "stranger";
  try {
    const answer = await fetchHello(`/hello?user=${encodeURIComponent(user)}`, { hashKey: user });
    res.writeHead(answer.status, { "content-type": "application/json" });
    res.end(await answer.text());
  } catch (error) {
    res.writeHead(503, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
  }
});
await new Promise<void>((resolve) => server.listen(flags.port, "127.0.0.1", resolve));
console.log(`gateway: serving on http://127.0.0.1:${(server.address() as AddressInfo).port}`);

async function shutdown(): Promise<void> {
  stopping.abort();
  server.close();
  await client.close();
  process.exit(0);
}
process.once("SIGINT", () => void shutdown());
process.once("SIGTERM", () => void shutdown());
