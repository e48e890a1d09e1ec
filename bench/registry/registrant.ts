/**
 * A registrant child of `npm run bench -- registry`: registers its slice of
 * the instances, each on its own lease, when told "go", keeps them alive,
 * answers "count" with its keep-alives so far, and on "stop" deregisters
 * them and exits. The bench SIGKILLs one of them to measure removal.
 */
import { childArgs, fail, onCommands, send } from "./child-io.js";
import { type RegistrantArgs, registrantInstances, wallMs } from "./plan.js";
import { registrantClient } from "./system-clients.js";

const args = childArgs<RegistrantArgs>();
const instances = registrantInstances(args.plan, args.registrant);
const client = registrantClient(args.system, args.endpoints, args.registrant, args.ttlSeconds);

async function registerAll(): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < instances.length; i = next++) {
      const instance = instances[i]!;
      const startMs = wallMs();
      try {
        await client.register(instance);
        send({ type: "registered", addr: instance.addr, startMs, endMs: wallMs() });
      } catch (error) {
        send({ type: "failed", addr: instance.addr, error: String(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.inFlight, instances.length) }, worker));
  send({ type: "all-registered" });
}

try {
  await client.warmUp();
} catch (error) {
  fail(error);
}
onCommands((command) => {
  if (command === "go") void registerAll().catch(fail);
  else if (command === "count") send({ type: "count", keepAlives: client.keepAlives() });
  else if (command === "stop") {
    void client
      .close()
      .then(() => {
        send({ type: "stopped" });
        process.exit(0);
      })
      .catch(fail);
  }
});
send({ type: "ready" });
