import type { Random } from "../raft/core/prng.js";
import type { NodeId } from "../raft/core/types.js";
import { type CarriedPacket, MemoryNetwork } from "../raft/transport/memory-network.js";
import type { Scheduler } from "./scheduler.js";

export interface NetworkFaults {
  /** Probability that a message is dropped. */
  lossRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Base one-way latency and uniform extra jitter; jitter reorders messages. */
  latencyMs: number;
  jitterMs: number;
}

export const CALM_NETWORK: NetworkFaults = {
  lossRate: 0,
  duplicateRate: 0,
  latencyMs: 1,
  jitterMs: 2,
};

/**
 * The simulated network: the project's MemoryNetwork (MemoryTransports,
 * the real wire codec, one-way link cuts) with a link model on the
 * scheduler — latency, jitter that reorders, loss, duplication — applied
 * alike to Raft messages of every group and to control payloads. A packet is
 * judged when sent and again when it lands (a link cut while it is in
 * flight drops it). Control payloads from nodes a receiver has not added
 * are delivered (a new node announcing itself). `receiverGate` holds a message for a paused receiver.
 */
export class SimNetwork {
  faults: NetworkFaults = CALM_NETWORK;
  readonly memory: MemoryNetwork;
  sent = 0;
  dropped = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: Random,
    private readonly receiverGate: (to: NodeId, arrive: () => void) => void,
  ) {
    this.memory = new MemoryNetwork({
      carry: (p, arrive) => this.carry(p, arrive),
      admitUnknownPeers: true,
    });
  }

  /** Raft messages of every group and control payloads all take the same link model. */
  private carry(p: CarriedPacket, arrive: () => void): void {
    this.sent++;
    if (this.random.float() < this.faults.lossRate) {
      this.dropped++;
      return;
    }
    const copies = this.random.float() < this.faults.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.faults.latencyMs + this.random.float() * this.faults.jitterMs;
      this.scheduler.after(delay, () => this.receiverGate(p.to, arrive));
    }
  }

  block(from: NodeId, to: NodeId): void {
    this.memory.block(from, to);
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.memory.isBlocked(from, to);
  }

  /** Cuts every link between the two groups, both ways. */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    this.memory.partition(a, b);
  }

  heal(): void {
    this.memory.heal();
  }
}
