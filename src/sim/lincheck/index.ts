/**
 * Linearizability checking for simulated histories: a Wing–Gong–Lowe search
 * with memoisation, per-partition (P-compositional) checking, unknown
 * outcomes, bounded by steps and time. See docs/lincheck.md.
 */
export { checkLinearizability, DEFAULT_MAX_STEPS } from "./check.js";
export {
  InvalidCheckOptionError,
  InvalidHistoryError,
  InvalidModelError,
  LincheckInvariantError,
} from "./errors.js";
export { type FormatHistoryOptions, formatCheckResult, formatHistory } from "./format.js";
export {
  type KvCasOutput,
  type KvDeleteOutput,
  type KvGetOutput,
  type KvInput,
  type KvOperation,
  type KvOutput,
  type KvPutOutput,
  type KvState,
  kvModel,
} from "./kv-model.js";
export type {
  CheckOptions,
  CheckResult,
  CheckStats,
  IdentifiedOperation,
  IllegalResult,
  LinearizedStep,
  Model,
  OkResult,
  Operation,
  StepResult,
  UnknownResult,
} from "./types.js";
