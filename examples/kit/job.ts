/**
 * The singleton job: one instance at a time runs it, chosen by election.
 * Every run is written under a fence: a write carrying an older fencing
 * token than one already written is refused by the store, so a paused or
 * partitioned former leader can never overwrite its successor's work.
 */
import type { ConclaveClient, TxnOp } from "conclave/client";
import { type LeaderHandle, type LockClient, runWhileLeader } from "conclave/lock";
import { JOB, KEYS, padToken } from "./options.js";

const RUN_EVERY_MS = 200;

export interface JobRun {
  readonly instance: string;
  readonly token: string;
  readonly run: number;
}

/** Runs the job while this instance leads; returns the runner to dispose. */
export function startSingletonJob(client: ConclaveClient, locks: LockClient, instance: string) {
  let run = 0;
  return runWhileLeader(
    locks,
    JOB,
    async (signal, leadership: LeaderHandle) => {
      console.log(`${instance}: leading ${JOB} with fencing token ${leadership.fencingToken}`);
      while (!signal.aborted) {
        run += 1;
        const written = await fencedWrite(client, leadership.fencingToken, {
          instance,
          token: leadership.fencingToken.toString(),
          run,
        });
        if (!written) {
          console.log(`${instance}: a newer leader has written; stopping`);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, RUN_EVERY_MS));
      }
    },
    { value: instance, ttlMs: 3000, retryDelayMs: 200 },
  );
}

/** Writes one run if no newer token has written yet: true when written. */
async function fencedWrite(client: ConclaveClient, token: bigint, run: JobRun): Promise<boolean> {
  const writes: TxnOp[] = [
    { type: "put", key: KEYS.jobFence, value: padToken(token) },
    { type: "put", key: KEYS.jobLast, value: JSON.stringify(run) },
  ];
  const result = await client.txn({
    // First run ever: no fence yet.
    compare: [{ key: KEYS.jobFence, target: "create", result: "equal", value: 0 }],
    success: writes,
    failure: [
      {
        type: "txn",
        compare: [
          { key: KEYS.jobFence, target: "value", result: "less", value: padToken(token + 1n) },
        ],
        success: writes,
      },
    ],
  });
  if (result.succeeded) return true;
  const inner = result.responses[0];
  return inner?.type === "txn" && inner.succeeded;
}
