/**
 * `conclave dev-cluster`: a local cluster of replicated key-value node
 * processes on 127.0.0.1 with embedded defaults, data under `.data/`. Stays in
 * the foreground; Ctrl-C stops every node gracefully.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { InvalidArgumentError } from "../errors.js";

export async function devCluster(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      nodes: { type: "string", default: "3" },
      "data-dir": { type: "string", default: ".data" },
      "peer-port": { type: "string", default: "7001" },
      "client-port": { type: "string", default: "8001" },
    },
    strict: true,
  });
  const n = Number(values.nodes);
  const peerBase = Number(values["peer-port"]);
  const clientBase = Number(values["client-port"]);
  if (!Number.isSafeInteger(n) || n < 1 || n > 9)
    throw new InvalidArgumentError("--nodes must be 1..9");
  for (const [name, v] of [
    ["peer-port", peerBase],
    ["client-port", clientBase],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1024 || v > 65_000)
      throw new InvalidArgumentError(`--${name} must be a port in 1024..65000`);
  }
  const dataDir = resolve(values["data-dir"] ?? ".data");
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const initialCluster = ids.map((id) => `${id}=127.0.0.1:${peerBase + id - 1}`).join(",");
  // Run the node the way this command runs: from TypeScript sources (npm start) or from dist.
  const self = fileURLToPath(import.meta.url);
  const fromSource = self.endsWith(".ts");
  const nodeMain = join(self, "..", "..", "devnode", fromSource ? "main.ts" : "main.js");
  const children: ChildProcess[] = [];
  for (const id of ids) {
    const dir = join(dataDir, `node${id}`);
    mkdirSync(dir, { recursive: true });
    const child = spawn(
      process.execPath,
      [
        ...(fromSource ? ["--import", "tsx"] : []),
        nodeMain,
        "--id",
        String(id),
        "--data-dir",
        dir,
        "--peer",
        `127.0.0.1:${peerBase + id - 1}`,
        "--client",
        `127.0.0.1:${clientBase + id - 1}`,
        "--initial-cluster",
        initialCluster,
      ],
      // The IPC channel closes if this process dies in any way; the node then stops itself.
      { stdio: ["ignore", "pipe", "inherit", "ipc"] },
    );
    child.stdout?.on("data", (b: Buffer) => {
      for (const line of b.toString().split("\n").filter(Boolean)) {
        if (line.includes('"ready":true'))
          process.stdout.write(
            `node ${id} ready: client http://127.0.0.1:${clientBase + id - 1}\n`,
          );
        else process.stdout.write(`[node ${id}] ${line}\n`);
      }
    });
    children.push(child);
  }
  process.stdout.write(
    `conclave dev cluster: ${n} nodes, data in ${dataDir}\n` +
      `  write: curl -X PUT http://127.0.0.1:${clientBase}/kv/greeting -d hello   (followers answer 421 with the leader id)\n` +
      `  read:  curl http://127.0.0.1:${clientBase}/kv/greeting\n` +
      `  state: curl http://127.0.0.1:${clientBase}/status\n` +
      "Ctrl-C stops the cluster.\n",
  );
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    let exited = 0;
    for (const c of children) {
      c.once("exit", (code) => {
        exited++;
        if (!stopping && code !== 0) {
          process.stderr.write(`a node exited with code ${code}; stopping the cluster\n`);
          stop();
        }
        if (exited === children.length) resolveExit(stopping ? 0 : 1);
      });
    }
  });
}
