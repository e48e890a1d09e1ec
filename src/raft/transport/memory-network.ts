import { InvalidArgumentError } from "../../errors.js";
import type { Random } from "../core/prng.js";
import type { Message, NodeId } from "../core/types.js";
import { MemoryTransport } from "./memory-transport.js";
import { validatePeerId } from "./options.js";

export interface MemoryNetworkOptions {
  /**
   * Deliver queued messages on their own, one macrotask after they were
   * sent (default). With false nothing moves until the test calls
   * `deliverNext()` or `flush()`, which makes every interleaving explicit.
   */
  readonly autoDeliver?: boolean;
  /** Messages in flight towards one node before further ones are dropped. Default 4096. */
  readonly maxInFlightPerNode?: number;
  /** Drives `lossRate`; required for a non-zero loss rate so runs replay from a seed. */
  readonly random?: Random;
  /** Snapshot bytes buffered at a receiver before the sender waits. Default 1 MiB. */
  readonly snapshotBufferBytes?: number;
  /**
   * How a packet (a Raft message of some group, or a control payload)
   * travels, instead of the FIFO queue: called once per packet sent, it
   * calls `arrive` when the packet lands — later, never, or more than once.
   * The simulator passes its link model (latency, jitter, loss, duplication)
   * here. Delivery-time checks (receiver running, link cut, loss, filter)
   * still apply at each arrival.
   */
  readonly carry?: (packet: CarriedPacket, arrive: () => void) => void;
  /**
   * Deliver control payloads from nodes the receiver has not added as peers,
   * as TcpTransport's `admitUnknownPeers` does (every node on the network
   * counts as an authenticated member of the cluster). Default false.
   */
  readonly admitUnknownPeers?: boolean;
}

/**
 * What the network moves between two nodes: a Raft message of `group`
 * (already a decoded copy; `from` and `to` are the message's own, as link
 * cuts have always been judged), or a control payload (a copy too) from the
 * sending node.
 */
export type CarriedPacket =
  | {
      readonly kind: "message";
      readonly from: NodeId;
      readonly to: NodeId;
      readonly group: number;
      readonly message: Message;
    }
  | {
      readonly kind: "control";
      readonly from: NodeId;
      readonly to: NodeId;
      readonly payload: Uint8Array;
    };

/** Decides the fate of one message (of `group`) at delivery time: false drops it. */
export type DeliveryFilter = (message: Message, group: number) => boolean;

/**
 * A deterministic in-process network of MemoryTransports. Messages travel
 * through the real wire codec (so what TCP would refuse, this refuses too)
 * and wait, with control payloads, in one FIFO; delivery order is send order. Hooks cut links (one
 * way or both), isolate nodes, drop a seeded fraction, or filter by content.
 */
export class MemoryNetwork {
  private readonly nodes = new Map<NodeId, MemoryTransport>();
  private readonly blocked = new Set<string>();
  private readonly queue: CarriedPacket[] = [];
  private head = 0;
  private readonly inFlightTo = new Map<NodeId, number>();
  private scheduled = false;
  private readonly autoDeliver: boolean;
  readonly maxInFlightPerNode: number;
  readonly snapshotBufferBytes: number;
  private readonly random: Random | undefined;
  private readonly carry: MemoryNetworkOptions["carry"];
  /** Whether control payloads from nodes a receiver has not added are delivered. */
  readonly admitUnknownPeers: boolean;
  private lossRateValue = 0;
  private filter: DeliveryFilter | undefined;
  delivered = 0;
  lost = 0;

  constructor(options: MemoryNetworkOptions = {}) {
    this.autoDeliver = options.autoDeliver ?? true;
    this.maxInFlightPerNode = options.maxInFlightPerNode ?? 4096;
    this.snapshotBufferBytes = options.snapshotBufferBytes ?? 1024 * 1024;
    this.random = options.random;
    this.carry = options.carry;
    this.admitUnknownPeers = options.admitUnknownPeers === true;
  }

  /**
   * Creates the transport of node `id` on this network. A node whose
   * transport was stopped (it crashed, or shut down) may register a new one,
   * as a restarted process binds its port again.
   */
  transport(id: NodeId): MemoryTransport {
    validatePeerId(id, "node id");
    if (this.nodes.get(id)?.stopped === false)
      throw new InvalidArgumentError(`node ${id} already has a transport`);
    const t = new MemoryTransport(id, this);
    this.nodes.set(id, t);
    return t;
  }

  /** Cuts the link from → to (one way). */
  block(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  unblock(from: NodeId, to: NodeId): void {
    this.blocked.delete(`${from}>${to}`);
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

  /** Cuts `id` off from every other node on the network. */
  isolate(id: NodeId): void {
    const others = [...this.nodes.keys()].filter((n) => n !== id);
    this.partition([id], others);
  }

  heal(): void {
    this.blocked.clear();
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  /** Fraction of messages silently lost in flight; needs `random`. */
  set lossRate(rate: number) {
    if (!(rate >= 0 && rate <= 1))
      throw new InvalidArgumentError(`lossRate must be in [0, 1], got ${rate}`);
    if (rate > 0 && this.random === undefined) {
      throw new InvalidArgumentError("a lossRate needs a seeded `random` in the network options");
    }
    this.lossRateValue = rate;
  }

  get lossRate(): number {
    return this.lossRateValue;
  }

  /** Installs (or with undefined removes) a filter that can drop individual messages (not control payloads). */
  setFilter(filter: DeliveryFilter | undefined): void {
    this.filter = filter;
  }

  /** Packets (messages and control payloads) in flight. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Delivers the oldest packet in flight; false when there is none. */
  deliverNext(): boolean {
    if (this.head >= this.queue.length) return false;
    const p = this.queue[this.head] as CarriedPacket;
    this.head++;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    this.inFlightTo.set(p.to, (this.inFlightTo.get(p.to) ?? 1) - 1);
    this.arrive(p);
    return true;
  }

  /** A packet lands at its receiver, unless the link or the receiver say otherwise. */
  private arrive(p: CarriedPacket): void {
    const target = this.nodes.get(p.to);
    const lossy = this.lossRateValue > 0 && (this.random as Random).float() < this.lossRateValue;
    if (target === undefined || !target.running || this.isBlocked(p.from, p.to) || lossy) {
      this.lost++;
      return;
    }
    if (p.kind === "control") {
      this.delivered++;
      target.receiveControl(p.from, p.payload);
      return;
    }
    if (this.filter !== undefined && !this.filter(p.message, p.group)) {
      this.lost++;
      return;
    }
    this.delivered++;
    target.receive(p.message, p.group);
  }

  /** Delivers until nothing is in flight (messages sent meanwhile included), at most `maxSteps`. */
  flush(maxSteps = 1_000_000): number {
    let n = 0;
    while (n < maxSteps && this.deliverNext()) n++;
    return n;
  }

  /** @internal Used by MemoryTransport. */
  enqueue(p: CarriedPacket): "queued" | "full" | "down" {
    const target = this.nodes.get(p.to);
    if (target === undefined || !target.running || this.isBlocked(p.from, p.to)) return "down";
    if (this.carry !== undefined) {
      this.carry(p, () => this.arrive(p));
      return "queued";
    }
    const inFlight = this.inFlightTo.get(p.to) ?? 0;
    if (inFlight >= this.maxInFlightPerNode) return "full";
    this.inFlightTo.set(p.to, inFlight + 1);
    this.queue.push(p);
    if (this.autoDeliver && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
    return "queued";
  }

  /** @internal */
  node(id: NodeId): MemoryTransport | undefined {
    return this.nodes.get(id);
  }
}
