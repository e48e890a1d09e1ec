import { randomBytes } from "node:crypto";
import { type Clock, systemClock } from "../../clock.js";

/**
 * What a RaftNode takes from the world besides its storage and transport:
 * time, timers and randomness. The process passes `processEnv`; the
 * simulator passes a virtual clock on its scheduler and seeds from the run's
 * seed, so the node that ships is the node the simulator runs, and a seed
 * replays it exactly.
 */
export interface NodeEnv {
  /** Ticks, request timeouts and the leadership-transfer wait all run on it. */
  readonly clock: Clock;
  /** A fresh 32-bit seed: the core's election jitter and read-batch nonces come from it. */
  seed(): number;
}

export const processEnv: NodeEnv = {
  clock: systemClock,
  seed: () => randomBytes(4).readUInt32LE(0),
};
