/**
 * What a run's history says: whether it is linearizable (the project's
 * checker over the key-value model), and whether an acknowledged write that
 * nothing could have overwritten is missing from the final reads.
 */
import {
  type CheckResult,
  checkLinearizability,
  formatCheckResult,
  type KvCasOutput,
  type KvDeleteOutput,
  type KvInput,
  type KvOperation,
  type KvOutput,
  kvModel,
} from "../../src/sim/lincheck/index.js";

export interface Verdict {
  readonly lincheck: CheckResult<KvInput, KvOutput>["result"];
  /** The checker's explanation when the history is not linearizable or the check ran out of budget. */
  readonly explanation?: string;
  /** Acknowledged writes that had to be the last on their key. */
  readonly checkedWrites: number;
  readonly lostAcknowledgedWrites: string[];
}

/** Whether `op` may have changed its key: it did, or its outcome is unknown. */
function mayHaveWritten(op: KvOperation): boolean {
  switch (op.input.op) {
    case "get":
      return false;
    case "put":
      return true;
    case "cas":
      return op.output === undefined || (op.output as KvCasOutput).ok;
    case "delete":
      return op.output === undefined || (op.output as KvDeleteOutput).existed !== false;
  }
}

/** The value an acknowledged write left, or undefined when `op` is not one. */
function acknowledgedEffect(op: KvOperation): { value: string | null } | undefined {
  if (op.output === undefined) return undefined;
  switch (op.input.op) {
    case "put":
      return { value: op.input.value };
    case "cas":
      return (op.output as KvCasOutput).ok ? { value: op.input.value } : undefined;
    case "delete":
      return { value: null };
    case "get":
      return undefined;
  }
}

/**
 * Acknowledged writes every other possible write on the same key returned
 * before: in any order real time allows they come last, so the final read
 * must show them. An unknown write never returned, so it disqualifies every
 * acknowledged write it might follow.
 */
export function lostWrites(
  history: readonly KvOperation[],
  finalValues: ReadonlyMap<string, string | null>,
): { checked: number; lost: string[] } {
  const byKey = new Map<string, KvOperation[]>();
  for (const op of history) {
    if (!mayHaveWritten(op)) continue;
    const list = byKey.get(op.input.key) ?? [];
    list.push(op);
    byKey.set(op.input.key, list);
  }
  let checked = 0;
  const lost: string[] = [];
  for (const [key, writes] of byKey) {
    for (const w of writes) {
      const effect = acknowledgedEffect(w);
      if (effect === undefined) continue;
      const last = writes.every((o) => o === w || (o.ret !== undefined && o.ret < w.call));
      if (!last) continue;
      checked++;
      const found = finalValues.get(key);
      if (found !== effect.value) {
        lost.push(
          `${kvModel.describeOperation(w.input, w.output)} at ${w.call.toFixed(1)} ms; final read ${JSON.stringify(found)}`,
        );
      }
    }
  }
  return { checked, lost };
}

export function judge(
  history: readonly KvOperation[],
  finalValues: ReadonlyMap<string, string | null>,
  checkTimeoutMs: number,
): Verdict {
  const result = checkLinearizability(kvModel, history, { timeoutMs: checkTimeoutMs });
  const { checked, lost } = lostWrites(history, finalValues);
  return {
    lincheck: result.result,
    ...(result.result !== "ok" && { explanation: formatCheckResult(kvModel, result) }),
    checkedWrites: checked,
    lostAcknowledgedWrites: lost,
  };
}
