export * from "./errors.js";
export type { NodeStatus, RaftNodeOptions, RequestOptions } from "./node.js";
export { RaftNode } from "./node.js";
export type { NodeTransport, StateMachine, TransportHandlers } from "./ports.js";
