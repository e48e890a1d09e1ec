import type { Xoshiro128 } from "../raft/core/prng.js";
import type { Message, NodeId } from "../raft/core/types.js";
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
 * The simulated network. Partitions are sets of blocked directed links, so
 * one-way partitions are expressible. A message is judged at send time and
 * again at delivery time (a link cut while it is in flight drops it).
 */
export class SimNetwork {
  faults: NetworkFaults = CALM_NETWORK;
  private readonly blocked = new Set<string>();
  sent = 0;
  dropped = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: Xoshiro128,
    private readonly deliver: (m: Message) => void,
  ) {}

  private key(from: NodeId, to: NodeId): string {
    return `${from}>${to}`;
  }

  block(from: NodeId, to: NodeId): void {
    this.blocked.add(this.key(from, to));
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(this.key(from, to));
  }

  /** Cuts every link between the two groups, both ways. */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.block(x, y);
        this.block(y, x);
      }
    }
  }

  heal(): void {
    this.blocked.clear();
  }

  get partitioned(): boolean {
    return this.blocked.size > 0;
  }

  send(m: Message): void {
    this.sent++;
    if (this.isBlocked(m.from, m.to) || this.random.float() < this.faults.lossRate) {
      this.dropped++;
      return;
    }
    const copies = this.random.float() < this.faults.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.faults.latencyMs + this.random.float() * this.faults.jitterMs;
      this.scheduler.after(delay, () => {
        if (this.isBlocked(m.from, m.to)) {
          this.dropped++;
          return;
        }
        this.deliver(m);
      });
    }
  }
}
