/**
 * Work the cross-process scenarios run, either in a worker process
 * (support/worker.ts) or, for in-process backends, in the test process.
 */
import { readFile, writeFile } from "node:fs/promises";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { LockClient, TokenType } from "../../../src/lock/index.js";

/** Wall-clock ms with sub-ms precision, comparable across processes on one machine. */
export function wallNowMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface IncrementTask {
  readonly task: "increment";
  readonly name: string;
  readonly counterFile: string;
  readonly iterations: number;
  readonly ttlMs: number;
}

export interface HoldTask {
  readonly task: "hold";
  readonly name: string;
  readonly ttlMs: number;
}

export type WorkerTask = IncrementTask | HoldTask;

export interface CounterState {
  count: number;
  /** The fencing token of the last writer, as a decimal string ("" before the first write). */
  lastToken: string;
}

export interface IncrementResult {
  /** Writes whose fencing token was not above the previous writer's. */
  readonly fencingViolations: number;
}

/**
 * M read-modify-write increments of a counter in a plain file, each under the
 * lock: without mutual exclusion, interleaved read/write pairs lose updates.
 * Also plays the fenced resource: a token not above the last one is counted.
 */
export async function runIncrements(
  client: LockClient<TokenType>,
  task: IncrementTask,
): Promise<IncrementResult> {
  let fencingViolations = 0;
  for (let i = 0; i < task.iterations; i++) {
    await client.withLock(
      task.name,
      async (lock) => {
        const state = JSON.parse(await readFile(task.counterFile, "utf8")) as CounterState;
        // Give other workers every chance to interleave between read and write.
        await yieldToLoop();
        const token = lock.fencingToken;
        if (token !== undefined) {
          if (state.lastToken !== "" && !(token > BigInt(state.lastToken))) fencingViolations += 1;
          state.lastToken = token.toString();
        }
        state.count += 1;
        lock.assertHeld();
        await writeFile(task.counterFile, JSON.stringify(state));
      },
      { ttlMs: task.ttlMs },
    );
  }
  return { fencingViolations };
}

export interface HoldReport {
  /** Wall-clock instant just before the acquire request was sent. */
  readonly requestedAtMs: number;
  readonly fencingToken: string | undefined;
}

/** Acquires and reports; then holds (renewing) until killed. */
export async function acquireAndHold(
  client: LockClient<TokenType>,
  task: HoldTask,
): Promise<HoldReport> {
  const requestedAtMs = wallNowMs();
  const lock = await client.acquire(task.name, { ttlMs: task.ttlMs, waitMs: task.ttlMs * 10 });
  return { requestedAtMs, fencingToken: lock.fencingToken?.toString() };
}
