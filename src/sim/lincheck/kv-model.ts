import type { IdentifiedOperation, Model, Operation, StepResult } from "./types.js";

/**
 * A small key-value store as a sequential specification: string keys, string
 * values, a missing key reads as null. It is partitioned per key, since every
 * operation touches exactly one key.
 */
export type KvInput =
  | { readonly op: "get"; readonly key: string }
  | { readonly op: "put"; readonly key: string; readonly value: string }
  | { readonly op: "delete"; readonly key: string }
  | {
      readonly op: "cas";
      readonly key: string;
      /** The value the key must hold for the swap to happen; null means "absent". */
      readonly expected: string | null;
      readonly value: string;
    };

/** get: the value read (null when absent). */
export interface KvGetOutput {
  readonly value: string | null;
}
/** put: nothing beyond success. */
export type KvPutOutput = Readonly<Record<string, never>>;
/**
 * delete: whether the key existed. `existed` may be left out when the store
 * does not report it; then any delete is accepted and only its effect counts.
 */
export interface KvDeleteOutput {
  readonly existed?: boolean;
}
/** cas: whether the swap happened. */
export interface KvCasOutput {
  readonly ok: boolean;
}
export type KvOutput = KvGetOutput | KvPutOutput | KvDeleteOutput | KvCasOutput;

/** Present keys only; an absent key is a missing entry, never a null value. */
export type KvState = ReadonlyMap<string, string>;

export type KvOperation = Operation<KvInput, KvOutput>;

const quote = (value: string | null): string =>
  value === null ? "(absent)" : JSON.stringify(value);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function validateKvInput(input: unknown): string | undefined {
  if (!isObject(input)) return "input must be an object";
  if (typeof input["key"] !== "string") return "input.key must be a string";
  switch (input["op"]) {
    case "get":
    case "delete":
      return undefined;
    case "put":
      return typeof input["value"] === "string" ? undefined : "put input.value must be a string";
    case "cas":
      if (input["expected"] !== null && typeof input["expected"] !== "string") {
        return "cas input.expected must be a string or null";
      }
      return typeof input["value"] === "string" ? undefined : "cas input.value must be a string";
    default:
      return `input.op must be "get", "put", "delete" or "cas", got ${JSON.stringify(input["op"])}`;
  }
}

function validateKvOutput(op: string, output: unknown): string | undefined {
  if (output === undefined) return undefined;
  if (!isObject(output)) return `${op} output must be an object`;
  switch (op) {
    case "get":
      return output["value"] === null || typeof output["value"] === "string"
        ? undefined
        : "get output.value must be a string or null";
    case "delete":
      return output["existed"] === undefined || typeof output["existed"] === "boolean"
        ? undefined
        : "delete output.existed must be a boolean when present";
    case "cas":
      return typeof output["ok"] === "boolean" ? undefined : "cas output.ok must be a boolean";
    default:
      return undefined;
  }
}

function withValue(state: KvState, key: string, value: string | null): KvState {
  if ((state.get(key) ?? null) === value) return state;
  const next = new Map(state);
  if (value === null) next.delete(key);
  else next.set(key, value);
  return next;
}

function kvStep(state: KvState, input: KvInput, output: KvOutput | undefined): StepResult<KvState> {
  const current = state.get(input.key) ?? null;
  switch (input.op) {
    case "get": {
      const ok = output === undefined || (output as KvGetOutput).value === current;
      return { ok, next: state };
    }
    case "put":
      return { ok: true, next: withValue(state, input.key, input.value) };
    case "delete": {
      const reported = (output as KvDeleteOutput | undefined)?.existed;
      const ok = reported === undefined || reported === (current !== null);
      return { ok, next: ok ? withValue(state, input.key, null) : state };
    }
    case "cas": {
      const swaps = current === input.expected;
      const ok = output === undefined || (output as KvCasOutput).ok === swaps;
      return { ok, next: ok && swaps ? withValue(state, input.key, input.value) : state };
    }
  }
}

function describeKvOperation(input: KvInput, output: KvOutput | undefined): string {
  const key = JSON.stringify(input.key);
  let call: string;
  let result: string;
  switch (input.op) {
    case "get":
      call = `get(${key})`;
      result = output === undefined ? "" : quote((output as KvGetOutput).value);
      break;
    case "put":
      call = `put(${key}, ${quote(input.value)})`;
      result = "ok";
      break;
    case "delete": {
      call = `delete(${key})`;
      const existed = (output as KvDeleteOutput | undefined)?.existed;
      result = existed === undefined ? "ok" : existed ? "existed" : "did not exist";
      break;
    }
    case "cas":
      call = `cas(${key}, ${quote(input.expected)} => ${quote(input.value)})`;
      result = output === undefined ? "" : (output as KvCasOutput).ok ? "swapped" : "failed";
      break;
  }
  return output === undefined ? `${call} -> ? (outcome unknown)` : `${call} -> ${result}`;
}

function describeKvState(state: KvState): string {
  if (state.size === 0) return "{}";
  // Partitioned per key, a state almost always holds one key: skip the sort.
  if (state.size === 1) {
    for (const [key, value] of state) return `{${JSON.stringify(key)}: ${JSON.stringify(value)}}`;
  }
  const entries = [...state.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(", ")}}`;
}

/**
 * A value no read returned and no compare-and-set expected can only be told
 * apart from the key being absent, never from another such value. Writing
 * one shared stand-in for all of them changes no verdict and lets the search
 * see states that differ only in such values as one.
 */
function simplifyKvPartition(part: readonly IdentifiedOperation<KvInput, KvOutput>[]) {
  const observed = new Set<string>();
  for (const op of part) {
    if (op.input.op === "get" && op.output !== undefined) {
      const value = (op.output as KvGetOutput).value;
      if (value !== null) observed.add(value);
    } else if (op.input.op === "cas" && op.input.expected !== null) {
      observed.add(op.input.expected);
    }
  }
  let standIn = "\u0000unobserved";
  while (observed.has(standIn)) standIn += "\u0000";
  return part.map((op) => {
    const input = op.input;
    if ((input.op === "put" || input.op === "cas") && !observed.has(input.value)) {
      return { ...op, input: { ...input, value: standIn } };
    }
    return op;
  });
}

function kvInputKey(input: KvInput): string {
  switch (input.op) {
    case "get":
    case "delete":
      return JSON.stringify([input.op, input.key]);
    case "put":
      return JSON.stringify([input.op, input.key, input.value]);
    case "cas":
      return JSON.stringify([input.op, input.key, input.expected, input.value]);
  }
}

/** The key-value model, partitioned per key. */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => new Map(),
  step: kvStep,
  stateKey: describeKvState,
  describeState: describeKvState,
  partition(history) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of history) {
      let part = byKey.get(op.input.key);
      if (part === undefined) {
        part = [];
        byKey.set(op.input.key, part);
      }
      part.push(op);
    }
    return [...byKey.values()];
  },
  simplify: simplifyKvPartition,
  inputKey: kvInputKey,
  partitionLabel: (part) => `key ${JSON.stringify(part[0]?.input.key ?? "")}`,
  isReadOnly(input, output) {
    switch (input.op) {
      case "get":
        return true;
      case "cas":
        return output !== undefined && (output as KvCasOutput).ok === false;
      case "delete":
        return output !== undefined && (output as KvDeleteOutput).existed === false;
      case "put":
        return false;
    }
  },
  validateOperation(input, output) {
    const inputProblem = validateKvInput(input);
    if (inputProblem !== undefined) return inputProblem;
    return validateKvOutput((input as KvInput).op, output);
  },
  describeOperation: describeKvOperation,
};
