/**
 * `npm run example`: a local 3-member cluster (`conclave start` on ports
 * 7579..7584, data in ./data/example), three `hello` instances (8081..8083),
 * the gateway (8080); Ctrl-C stops everything.
 *
 *   curl 'http://127.0.0.1:8080/hello?user=ada'       # routed by user, sticky
 *   conclave put /example/config/greeting bonjour --endpoints http://127.0.0.1:7579
 *   conclave service list --endpoints http://127.0.0.1:7579
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ConclaveClient } from "conclave/client";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const ENDPOINTS = ["http://127.0.0.1:7579", "http://127.0.0.1:7581", "http://127.0.0.1:7583"];
let cluster: ChildProcess | undefined;
const apps: ChildProcess[] = [];

function launch(label: string, script: string, args: readonly string[]): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (text: string) => {
      for (const line of text.split("\n")) if (line !== "") console.log(`[${label}] ${line}`);
    });
  }
  child.on("exit", (code, signal) => console.log(`[${label}] exited (${signal ?? code})`));
  return child;
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** The services deregister while the cluster still runs; then the cluster stops. */
async function stopAll(): Promise<void> {
  const exited = apps
    .filter(running)
    .map((child) => new Promise((resolve) => child.once("exit", resolve)));
  for (const child of apps) if (running(child)) child.kill("SIGTERM");
  await Promise.race([Promise.all(exited), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  if (cluster !== undefined && running(cluster)) cluster.kill("SIGTERM");
}
// Ctrl-C reaches every process of the terminal's group: the children ignore
// it (they are started detached) and this script stops them in order.
const stopAndExit = () => void stopAll().then(() => process.exit(0));
process.once("SIGINT", stopAndExit);
process.once("SIGTERM", stopAndExit);

cluster = launch("cluster", "src/cli/main.ts", [
  "start",
  "--data-dir",
  "data/example",
  "--client-port",
  "7579",
  "--peer-port",
  "7580",
  "--grpc-port",
  "0",
]);
const client = new ConclaveClient({ endpoints: ENDPOINTS, timeoutMs: 2000 });
for (let attempt = 0; ; attempt++) {
  try {
    await client.status();
    break;
  } catch (error) {
    if (attempt >= 120) {
      console.error(`the cluster did not start: ${error instanceof Error ? error.message : error}`);
      await stopAll();
      process.exit(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
await client.close();
const endpoints = ["--endpoints", ENDPOINTS.join(",")];
for (const i of [1, 2, 3])
  apps.push(
    launch(`hello-${i}`, "examples/kit/service.ts", [
      "--id",
      `hello-${i}`,
      "--port",
      String(8080 + i),
      ...endpoints,
    ]),
  );
apps.push(launch("gateway", "examples/kit/gateway.ts", ["--port", "8080", ...endpoints]));
console.log("try: curl 'http://127.0.0.1:8080/hello?user=ada'   (Ctrl-C stops everything)");
