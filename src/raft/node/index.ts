export type { NodeEnv } from "./env.js";
export { processEnv } from "./env.js";
export * from "./errors.js";
export type { PeerMessageRejection } from "./message-guard.js";
export type { NodeStatus, RaftNodeOptions, RequestOptions } from "./node.js";
export { RaftNode } from "./node.js";
export type { ProposalOutcome, RaftNodeObserver, SnapshotKind } from "./observer.js";
export type { StateMachine } from "./ports.js";
