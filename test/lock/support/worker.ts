/**
 * Entry point of a conformance worker process. Reads its job from the
 * LOCK_WORKER_JOB environment variable (JSON: { module, config, task }),
 * builds a client with the target's worker module, runs the task and reports
 * on stdout as JSON lines.
 */
import type { LockClient, TokenType } from "../../../src/lock/index.js";
import { acquireAndHold, runIncrements, type WorkerTask } from "./tasks.js";

interface Job {
  readonly module: string;
  readonly config: unknown;
  readonly task: WorkerTask;
}

function report(message: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

const job = JSON.parse(process.env["LOCK_WORKER_JOB"] ?? "null") as Job | null;
if (job === null) throw new Error("LOCK_WORKER_JOB is not set");
const factory = (await import(job.module)) as {
  createWorkerClient(config: unknown): Promise<LockClient<TokenType>>;
};
const client = await factory.createWorkerClient(job.config);
if (job.task.task === "increment") {
  const result = await runIncrements(client, job.task);
  await client.close();
  report({ event: "done", ...result });
} else {
  const held = await acquireAndHold(client, job.task);
  report({ event: "acquired", ...held });
  // Hold (the watchdog keeps renewing) until the test kills this process.
  setInterval(() => {}, 60_000);
}
