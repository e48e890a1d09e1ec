export { REDLOCK_GUARANTEES, RedlockBackend, type RedlockBackendOptions } from "./backend.js";
export { driftAllowanceMs, judgeQuorum, type QuorumVerdict, quorumOf } from "./quorum.js";
