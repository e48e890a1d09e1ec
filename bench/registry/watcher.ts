/**
 * A watcher child of `npm run bench -- registry`: follows each of its
 * services (list, then watch) and reports every instance address that
 * enters or leaves a watch's set, with the wall-clock time it saw it.
 * "ready" once every watch has delivered its first set. Ends on SIGTERM.
 */
import { childArgs, fail, send } from "./child-io.js";
import { type WatcherArgs, wallMs } from "./plan.js";
import { watchClient } from "./system-clients.js";

const args = childArgs<WatcherArgs>();
const client = watchClient(args.system, args.endpoints, args.firstEndpoint);
const stop = new AbortController();
let firstSets = 0;

process.once("SIGTERM", () => {
  stop.abort();
  void client.close().finally(() => process.exit(0));
});

await Promise.all(
  args.services.map(async (service, i) => {
    const watch = args.watchIds[i]!;
    let previous = new Set<string>();
    let first = true;
    await client.follow(
      service,
      (addrs) => {
        const atMs = wallMs();
        for (const addr of addrs) {
          if (!previous.has(addr)) send({ type: "seen", watch, addr, atMs });
        }
        for (const addr of previous) {
          if (!addrs.has(addr)) send({ type: "gone", watch, addr, atMs });
        }
        previous = new Set(addrs);
        if (first) {
          first = false;
          if (++firstSets === args.services.length) send({ type: "ready" });
        }
      },
      stop.signal,
    );
  }),
).catch((error: unknown) => {
  if (!stop.signal.aborted) fail(error);
});
