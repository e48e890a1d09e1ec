/** Starts bench/_conclave-cluster-process.ts as a child process; its cluster serves until `stop`. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface BenchCluster {
  readonly endpoints: string[];
  /** The serving process, for reading its CPU time. */
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startBenchCluster(): Promise<BenchCluster> {
  const script = fileURLToPath(new URL("./_conclave-cluster-process.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const endpoints = await new Promise<string[]>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(
      () => reject(new Error("the bench cluster did not start in 30 s")),
      30_000,
    );
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const line = out.split("\n")[0];
      if (out.includes("\n") && line !== undefined) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { endpoints: string[] }).endpoints);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the bench cluster exited with ${code}`));
    });
  });
  return {
    endpoints,
    pid: child.pid ?? 0,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
