/**
 * Shared types of the linearizability checker: what a history is, what a
 * sequential model must provide, and what a check returns.
 */

/**
 * One client operation as the simulator observed it. `call` and `ret` are
 * simulated timestamps (any unit, as long as one history uses one clock).
 *
 * An operation whose outcome is unknown (the client timed out or crashed) has
 * neither `ret` nor `output`: it may take effect at any moment after `call`,
 * or never, and whatever it would have returned is accepted.
 */
export interface Operation<Input, Output> {
  /** Stable identity used in reports; defaults to the operation's index in the history. */
  readonly id?: number;
  readonly clientId: number;
  readonly input: Input;
  readonly call: number;
  readonly output?: Output;
  readonly ret?: number;
}

/** What applying one operation to a state yields. `next` is ignored when `ok` is false. */
export interface StepResult<State> {
  readonly ok: boolean;
  readonly next: State;
}

/**
 * A sequential specification. The checker only ever calls these functions; it
 * never inspects states, inputs or outputs itself.
 */
export interface Model<State, Input, Output> {
  /** The state before any operation. */
  init(): State;
  /**
   * Applies `input` to `state`. `output` is what the operation returned, or
   * `undefined` when the outcome is unknown: then the step must accept (ok:
   * true) and return the state the operation would have produced.
   * Must be pure and must not mutate `state`.
   */
  step(state: State, input: Input, output: Output | undefined): StepResult<State>;
  /** A string equal for two states exactly when they are equal; used for memoisation. */
  stateKey(state: State): string;
  /**
   * Splits a history into independent sub-histories (P-compositionality): the
   * whole is linearizable iff every part is. Every operation must land in
   * exactly one part.
   */
  partition?(
    history: readonly Operation<Input, Output>[],
  ): ReadonlyArray<readonly Operation<Input, Output>[]>;
  /** A readable name for one part returned by `partition`, e.g. `key "x"`. */
  partitionLabel?(part: readonly Operation<Input, Output>[]): string;
  /**
   * True when the operation cannot change the state in any state where it is
   * legal (a read, a failed compare-and-set). Lets the search place such an
   * operation as soon as it is legal instead of trying every position.
   * Answering false is always safe; answering true wrongly is not.
   */
  isReadOnly?(input: Input, output: Output | undefined): boolean;
  /**
   * A string equal for two inputs exactly when they affect every state in
   * the same way. Operations with unknown outcome and equal input keys are
   * interchangeable, so the search only ever uses the earliest-called one
   * still unplaced. Leaving this out is always safe.
   */
  inputKey?(input: Input): string;
  /**
   * Rewrites one partition into an equivalent one that is cheaper to check:
   * same operations (same ids, clients and times, same order), inputs and
   * outputs possibly replaced, such that the rewritten partition is
   * linearizable exactly when the original is and a sequence of operations
   * is legal in one exactly when it is legal in the other. Reports always
   * show the original operations.
   */
  simplify?(
    part: readonly IdentifiedOperation<Input, Output>[],
  ): readonly IdentifiedOperation<Input, Output>[];
  /**
   * Checks the runtime shape of an operation's input and output (output is
   * `undefined` for an unknown outcome). Returns a message naming what is
   * wrong, or undefined when the operation is well-formed.
   */
  validateOperation?(input: unknown, output: unknown): string | undefined;
  /** e.g. `put("x", "a") -> ok`; `output` is undefined for an unknown outcome. */
  describeOperation(input: Input, output: Output | undefined): string;
  /** Defaults to `stateKey`. */
  describeState?(state: State): string;
}

export interface CheckOptions {
  /**
   * Upper bound on search steps (model steps, backtracks and scan moves)
   * over all partitions together; default DEFAULT_MAX_STEPS. The verdict is a pure function of the history and
   * this bound, so a seed that replays gives the same verdict.
   */
  readonly maxSteps?: number;
  /**
   * Wall-clock bound for the whole check. Unlike `maxSteps` it makes the
   * verdict depend on machine speed, so simulations that must replay exactly
   * should rely on `maxSteps`.
   */
  readonly timeoutMs?: number;
  /** Clock used for `timeoutMs`, in milliseconds; defaults to `performance.now`. */
  readonly clock?: () => number;
}

/** An operation as it appears in reports: the caller's operation plus its resolved id. */
export interface IdentifiedOperation<Input, Output> extends Operation<Input, Output> {
  readonly id: number;
}

/** One entry of a (partial) linearization: the operation and the state after it. */
export interface LinearizedStep<Input, Output> {
  readonly operation: IdentifiedOperation<Input, Output>;
  readonly stateAfter: string;
}

export interface CheckStats {
  /** Search steps spent over all partitions checked. */
  readonly steps: number;
  readonly partitions: number;
}

export interface OkResult extends CheckStats {
  readonly result: "ok";
}

/**
 * The history is not linearizable. The explanation is for the partition where
 * the search failed: the longest prefix it could linearize, and the operation
 * it then could not place.
 */
export interface IllegalResult<Input, Output> extends CheckStats {
  readonly result: "illegal";
  /** Label of the failing partition. */
  readonly partition: string;
  /** Every operation of the failing partition, by call time. */
  readonly operations: readonly IdentifiedOperation<Input, Output>[];
  /** The longest linearizable prefix found, in linearization order. */
  readonly longestPrefix: readonly LinearizedStep<Input, Output>[];
  /** State after `longestPrefix` (the initial state when it is empty). */
  readonly stateAfterPrefix: string;
  /**
   * The operation that had returned, so had to be linearized before anything
   * later, yet neither it nor any operation allowed before it could follow the
   * prefix.
   */
  readonly stuckOperation: IdentifiedOperation<Input, Output>;
  /** Whether `stuckOperation` alone would be legal right after the prefix. */
  readonly stuckOperationLegalAfterPrefix: boolean;
  /** Operations (other than the stuck one) that could have come next by real time; all failed. */
  readonly candidates: readonly IdentifiedOperation<Input, Output>[];
}

export interface UnknownResult extends CheckStats {
  readonly result: "unknown";
  readonly reason: string;
  /** Label of the partition whose search ran out of budget. */
  readonly partition: string;
}

export type CheckResult<Input, Output> = OkResult | IllegalResult<Input, Output> | UnknownResult;
