/**
 * A process that does nothing but keep the same event-loop delay monitor a
 * Conclave member keeps: its worst delay is what the machine's scheduler
 * alone costs an event loop while a load runs, the floor under any member's
 * figure. It reports when asked to stop (a line on its stdin).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { LOOP_DELAY_RESOLUTION_MS } from "../../src/server/metrics.js";

const CHILD = `
const { monitorEventLoopDelay } = require("node:perf_hooks");
const h = monitorEventLoopDelay({ resolution: ${LOOP_DELAY_RESOLUTION_MS} });
h.enable();
process.stdout.write("ready\\n");
process.stdin.once("data", () => {
  h.disable();
  process.stdout.write(JSON.stringify({ maxMs: h.max / 1e6 }) + "\\n");
  process.exit(0);
});
`;

const START_TIMEOUT_MS = 10_000;

export interface IdleLoopProbe {
  readonly pid: number;
  /** Stops the probe; resolves to its worst event-loop delay in ms. */
  stop(): Promise<number>;
}

export async function startIdleLoopProbe(): Promise<IdleLoopProbe> {
  const child = spawn(process.execPath, ["-e", CHILD], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    out += chunk;
  });
  const line = async (n: number) => {
    const deadline = performance.now() + START_TIMEOUT_MS;
    while (out.split("\n").length <= n + 1) {
      if (child.exitCode !== null || performance.now() > deadline) {
        child.kill();
        throw new Error(`idle loop probe gave no line ${n + 1} (exit ${child.exitCode})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return out.split("\n")[n]!;
  };
  await line(0);
  return {
    pid: child.pid!,
    async stop() {
      const exited = once(child, "exit");
      child.stdin.end("stop\n");
      const { maxMs } = JSON.parse(await line(1)) as { maxMs: number };
      await exited;
      return maxMs;
    },
  };
}
