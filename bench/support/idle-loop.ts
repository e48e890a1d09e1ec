/**
 * A process that does nothing but keep the same event-loop delay monitor a
 * Conclave member keeps: its worst delay is what the machine's scheduler
 * alone costs an event loop while a load runs, the floor under any member's
 * figure. It reports when asked to stop (a line on its stdin).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { LOOP_DELAY_RESOLUTION_MS } from "../../src/server/metrics.js";

// Reports on the first input line, or when its parent is gone (stdin closed).
const CHILD = `
const { monitorEventLoopDelay } = require("node:perf_hooks");
const h = monitorEventLoopDelay({ resolution: ${LOOP_DELAY_RESOLUTION_MS} });
h.enable();
process.stdout.write("ready\\n");
const report = () => {
  h.disable();
  process.stdout.write(JSON.stringify({ maxMs: h.max / 1e6 }) + "\\n");
  process.exit(0);
};
process.stdin.once("data", report).once("end", report);
`;

const LINE_TIMEOUT_MS = 10_000;

export interface IdleLoopProbe {
  readonly pid: number;
  /** Stops the probe; resolves to its worst event-loop delay in ms. */
  stop(): Promise<number>;
}

export async function startIdleLoopProbe(): Promise<IdleLoopProbe> {
  const child = spawn(process.execPath, ["-e", CHILD], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async (what: string): Promise<string> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`idle loop probe: no ${what} line`)),
        LINE_TIMEOUT_MS,
      );
    });
    try {
      const line = await Promise.race([lines.next(), timeout]);
      if (line.done === true) throw new Error(`idle loop probe exited before its ${what} line`);
      return line.value;
    } catch (err) {
      child.kill();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  };
  await nextLine("ready");
  return {
    pid: child.pid!,
    async stop() {
      const exited = once(child, "exit");
      child.stdin.end("stop\n");
      const { maxMs } = JSON.parse(await nextLine("report")) as { maxMs: number };
      await exited;
      return maxMs;
    },
  };
}
