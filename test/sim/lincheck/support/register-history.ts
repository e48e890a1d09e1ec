import type {
  KvInput,
  KvOperation,
  KvOutput,
  KvState,
} from "../../../../src/sim/lincheck/index.js";
import { kvModel } from "../../../../src/sim/lincheck/index.js";
import { pick, randomInt, seededRandom } from "./random.js";

export interface GeneratedHistoryOptions {
  readonly seed: number;
  readonly clients: number;
  readonly operationsPerClient: number;
  readonly keys: readonly string[];
  /** Probability that an operation's outcome is lost (no ret, no output). */
  readonly unknownRate?: number;
  /** Longest gap between call and linearization point, and between it and ret. */
  readonly maxLatency?: number;
  /** When given, every written or expected value comes from this pool. */
  readonly valuePool?: readonly string[];
}

interface Planned {
  readonly op: { clientId: number; call: number; ret?: number; input: KvInput; id: number };
  readonly linearizeAt: number;
  readonly tieBreak: number;
  readonly applied: boolean;
  readonly outcomeKnown: boolean;
  output?: KvOutput;
}

/**
 * A history produced by a real sequential store: each client issues
 * operations one after another; every operation takes effect at a random
 * point inside its interval, and its output is what the store returned at
 * that point. Such a history is linearizable by construction.
 *
 * An operation with a lost outcome either takes effect at some point after
 * its call (possibly after its client has moved on) or never does.
 */
export function generateLinearizableHistory(options: GeneratedHistoryOptions): KvOperation[] {
  const random = seededRandom(options.seed);
  const unknownRate = options.unknownRate ?? 0;
  const maxLatency = options.maxLatency ?? 6;
  const planned: Planned[] = [];
  let nextId = 0;
  let putCounter = 0;
  const valuesSeen = ["a", "b", "c"];
  for (let clientId = 0; clientId < options.clients; clientId++) {
    let cursor = randomInt(random, 0, maxLatency);
    for (let n = 0; n < options.operationsPerClient; n++) {
      const key = pick(random, options.keys);
      const kind = pick(random, ["get", "get", "put", "put", "delete", "cas"] as const);
      let input: KvInput;
      if (kind === "get" || kind === "delete") input = { op: kind, key };
      else {
        // Fresh values make stale reads detectable; reused ones exercise ties.
        const pool = options.valuePool;
        const value =
          pool !== undefined
            ? pick(random, pool)
            : random() < 0.7
              ? `v${putCounter++}`
              : pick(random, valuesSeen);
        valuesSeen.push(value);
        input =
          kind === "put"
            ? { op: "put", key, value }
            : {
                op: "cas",
                key,
                expected: random() < 0.2 ? null : pick(random, options.valuePool ?? valuesSeen),
                value,
              };
      }
      const call = cursor + randomInt(random, 0, 2);
      const outcomeKnown = random() >= unknownRate;
      const linearizeAt = call + randomInt(random, 0, outcomeKnown ? maxLatency : 6 * maxLatency);
      const ret = outcomeKnown ? linearizeAt + randomInt(random, 0, maxLatency) : undefined;
      const applied = outcomeKnown || random() < 0.5;
      const op = { id: nextId++, clientId, call, input, ...(ret === undefined ? {} : { ret }) };
      planned.push({ op, linearizeAt, tieBreak: random(), applied, outcomeKnown });
      cursor = ret ?? call + 2 * maxLatency;
    }
  }
  const order = planned
    .filter((p) => p.applied)
    .sort((a, b) => a.linearizeAt - b.linearizeAt || a.tieBreak - b.tieBreak);
  let state: KvState = kvModel.init();
  for (const p of order) {
    const current = state.get(p.op.input.key) ?? null;
    const input = p.op.input;
    switch (input.op) {
      case "get":
        p.output = { value: current };
        break;
      case "put":
        p.output = {};
        break;
      case "delete":
        p.output = { existed: current !== null };
        break;
      case "cas":
        p.output = { ok: current === input.expected };
        break;
    }
    const stepped = kvModel.step(state, input, p.output);
    if (!stepped.ok) throw new Error("generator produced an output its own store rejects");
    state = stepped.next;
  }
  return planned.map((p) => (p.outcomeKnown ? { ...p.op, output: p.output! } : { ...p.op }));
}
