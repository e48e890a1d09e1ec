import type { Model, StepResult } from "./types.js";

/**
 * The key space's semantics as a sequential specification, for histories of
 * clients of the real KvStore: per key a value, a version (writes since
 * creation), a create and a mod revision, and whether a lease holds it.
 * Partitioned per key; the revision counter is global, so a write's revision
 * is checked only to move forward past everything the key has seen, and a
 * read must return exactly the revisions the key's last write got. A key
 * held by a lease may vanish on its own (the lease expired): the lease checks
 * in the simulator decide whether it expired too early.
 */
export type KeyspaceInput =
  | { readonly op: "get"; readonly key: string }
  | { readonly op: "put"; readonly key: string; readonly value: string; readonly leased: boolean }
  | { readonly op: "delete"; readonly key: string }
  /** Txn: if the key's mod revision is `expectedMod` (0: the key is absent) then put `value`. */
  | {
      readonly op: "cas";
      readonly key: string;
      readonly expectedMod: number;
      readonly value: string;
    }
  /** Revokes the lease holding this key. */
  | { readonly op: "revoke"; readonly key: string };

export interface KeyState {
  readonly value: string;
  readonly version: number;
  /** 0: unknown (set by a write whose outcome is unknown), some revision above `floor`. */
  readonly createRevision: number;
  readonly modRevision: number;
  readonly leased: boolean;
}

export interface ObservedKey {
  readonly value: string;
  readonly version: number;
  readonly createRevision: number;
  readonly modRevision: number;
}

export type KeyspaceOutput =
  | { readonly kv: ObservedKey | null }
  | { readonly revision: number }
  | { readonly deleted: number; readonly revision: number }
  | { readonly succeeded: boolean; readonly revision: number };

export interface KeyspaceState {
  readonly key: KeyState | null;
  /** The highest revision known to have touched this key. */
  readonly floor: number;
}

const INIT: KeyspaceState = { key: null, floor: 0 };

function write(
  state: KeyspaceState,
  value: string,
  leased: boolean,
  revision: number | undefined,
): StepResult<KeyspaceState> {
  if (revision !== undefined && revision <= state.floor) return { ok: false, next: state };
  const r = revision ?? 0;
  const prev = state.key;
  return {
    ok: true,
    next: {
      key: {
        value,
        version: (prev?.version ?? 0) + 1,
        createRevision: prev === null ? r : prev.createRevision,
        modRevision: r,
        leased,
      },
      floor: revision ?? state.floor,
    },
  };
}

function remove(state: KeyspaceState, revision: number | undefined): StepResult<KeyspaceState> {
  if (revision !== undefined && revision <= state.floor) return { ok: false, next: state };
  return { ok: true, next: { key: null, floor: revision ?? state.floor } };
}

/**
 * A read must show the key's last write. Revisions written by a write of
 * unknown outcome (0) are unknown: its mod revision lies above the floor it
 * was written over, its create revision equals the mod revision when that
 * write created the key (version 1) and lies below it otherwise.
 */
function matches(want: KeyState, floor: number, got: ObservedKey): boolean {
  const mod =
    want.modRevision === 0 ? got.modRevision > floor : got.modRevision === want.modRevision;
  const create =
    want.createRevision === 0
      ? got.createRevision > 0 &&
        (want.version === 1
          ? got.createRevision === got.modRevision
          : got.createRevision < got.modRevision)
      : got.createRevision === want.createRevision;
  return got.value === want.value && got.version === want.version && mod && create;
}

function step(
  state: KeyspaceState,
  input: KeyspaceInput,
  output: KeyspaceOutput | undefined,
): StepResult<KeyspaceState> {
  const key = state.key;
  const expired: StepResult<KeyspaceState> = { ok: true, next: { key: null, floor: state.floor } };
  switch (input.op) {
    case "get": {
      if (output === undefined) return { ok: true, next: state };
      const seen = (output as { kv: ObservedKey | null }).kv;
      if (seen === null) {
        if (key === null) return { ok: true, next: state };
        return key.leased ? expired : { ok: false, next: state };
      }
      return { ok: key !== null && matches(key, state.floor, seen), next: state };
    }
    case "put":
      return write(
        state,
        input.value,
        input.leased,
        (output as { revision: number } | undefined)?.revision,
      );
    case "delete":
    case "revoke": {
      if (output === undefined) return remove(state, undefined);
      const { deleted, revision } = output as { deleted: number; revision: number };
      if (deleted === 0) {
        if (key === null) return { ok: true, next: state };
        return key.leased ? expired : { ok: false, next: state };
      }
      if (key === null || (input.op === "revoke" && !key.leased)) return { ok: false, next: state };
      return remove(state, revision);
    }
    case "cas": {
      const holds =
        input.expectedMod === 0
          ? key === null
          : key !== null &&
            (key.modRevision === input.expectedMod ||
              // An unknown mod revision lies above the floor: an older one cannot match.
              (key.modRevision === 0 && input.expectedMod > state.floor));
      if (output === undefined)
        return holds ? write(state, input.value, false, undefined) : { ok: true, next: state };
      const { succeeded, revision } = output as { succeeded: boolean; revision: number };
      if (!succeeded) {
        // A leased key may have expired; a key of unknown mod revision may hold another one.
        const couldFail = !holds || key?.modRevision === 0 || key?.leased === true;
        return { ok: couldFail, next: state };
      }
      return holds ? write(state, input.value, false, revision) : { ok: false, next: state };
    }
  }
}

function describeState(state: KeyspaceState): string {
  const k = state.key;
  if (k === null) return `absent (floor ${state.floor})`;
  const rev = (r: number) => (r === 0 ? "?" : String(r));
  return `${JSON.stringify(k.value)} v${k.version} create=${rev(k.createRevision)} mod=${rev(k.modRevision)}${k.leased ? " leased" : ""} (floor ${state.floor})`;
}

function describeOperation(input: KeyspaceInput, output: KeyspaceOutput | undefined): string {
  const key = JSON.stringify(input.key);
  let call: string;
  switch (input.op) {
    case "get":
      call = `get(${key})`;
      break;
    case "put":
      call = `put(${key}, ${JSON.stringify(input.value)}${input.leased ? ", leased" : ""})`;
      break;
    case "delete":
      call = `delete(${key})`;
      break;
    case "cas":
      call = `cas(${key}, mod=${input.expectedMod} => ${JSON.stringify(input.value)})`;
      break;
    case "revoke":
      call = `revoke(lease of ${key})`;
      break;
  }
  return `${call} -> ${output === undefined ? "? (outcome unknown)" : JSON.stringify(output)}`;
}

/** The key space model, partitioned per key. */
export const keyspaceModel: Model<KeyspaceState, KeyspaceInput, KeyspaceOutput> = {
  init: () => INIT,
  step,
  stateKey: describeState,
  describeState,
  partition(history) {
    const byKey = new Map<string, (typeof history)[number][]>();
    for (const op of history) {
      const part = byKey.get(op.input.key);
      if (part === undefined) byKey.set(op.input.key, [op]);
      else part.push(op);
    }
    return [...byKey.values()];
  },
  partitionLabel: (part) => `key ${JSON.stringify(part[0]?.input.key ?? "")}`,
  isReadOnly: (input, output) =>
    input.op === "get" &&
    output !== undefined &&
    (output as { kv: ObservedKey | null }).kv !== null,
  inputKey: (input) => JSON.stringify(input),
  describeOperation,
};
