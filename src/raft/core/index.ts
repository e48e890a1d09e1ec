export { bootstrapLog } from "./bootstrap.js";
export { decodeConfChange, encodeConfChange, validateConfChange } from "./confchange.js";
export type { RaftConfig } from "./config.js";
export { RAFT_DEFAULTS, ReadOnlyOption } from "./config.js";
export * from "./errors.js";
export { MAX_INDEX, MAX_TERM, MAX_TERM_JUMP } from "./limits.js";
export type { Random } from "./prng.js";
export { Xoshiro128 } from "./prng.js";
export { ProgressState } from "./progress.js";
export type {
  BasicStatus,
  PeerStatus,
  ProposalPosition,
  RaftStatus,
  Ready,
  SoftState,
} from "./rawnode.js";
export { RawNode } from "./rawnode.js";
export type { LogStorage } from "./storage.js";
export * from "./types.js";
