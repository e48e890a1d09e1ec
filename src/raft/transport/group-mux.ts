import { InvalidArgumentError } from "../../errors.js";
import type { Message, NodeId } from "../core/types.js";
import { validateGroup } from "./group.js";
import { TransportHandlers } from "./handlers.js";
import type {
  ControlHandler,
  PeerAddress,
  SendSnapshotOptions,
  Transport,
  TransportStats,
} from "./transport.js";

/** Called for a message (or a snapshot's header) of a group that has no live view. */
export type UnknownGroupHandler = (group: number, message: Message) => void;

/** The pin's place among a peer's holders. */
const PIN: object = Object.freeze({ pin: true });

/**
 * Many Raft groups over one carrier Transport: each group's RawNode gets a
 * Transport view of its own (`view(group)`), while a single connection per
 * pair of nodes carries every group. The mux takes over the carrier's
 * message, snapshot, snapshot-status and unreachable handlers (do not set
 * them on the carrier afterwards); the carrier's control channel stays its
 * owner's, and so do starting and stopping the carrier.
 *
 * Peers are reference-counted: a peer stays on the carrier while any live
 * view has added it or the owner has pinned it, so a group that removes a
 * peer from its configuration never cuts the connection another group (or
 * the host) still needs. An address given by anyone moves the carrier's peer.
 */
export class GroupMux {
  private readonly live = new Map<number, GroupView>();
  /** Who holds each peer the mux added to the carrier: views and PIN. */
  private readonly holders = new Map<NodeId, Set<object>>();
  private unknownGroupHandler: UnknownGroupHandler | undefined;
  private droppedUnknown = 0;

  constructor(private readonly carrier: Transport) {
    carrier.onMessage((m, group) => this.dispatchMessage(m, group));
    carrier.onSnapshot((m, data, group) => this.dispatchSnapshot(m, data, group));
    carrier.onSnapshotStatus((peer, ok, group) => this.live.get(group)?.snapshotStatus(peer, ok));
    carrier.onUnreachable((peer) => this.fanOutUnreachable(peer));
  }

  /**
   * A Transport for the replica of `group` on this node. Throws
   * InvalidArgumentError for a bad group id or while a live view of the
   * group exists (stop it first).
   */
  view(group: number): Transport {
    validateGroup(group);
    if (this.live.has(group)) {
      throw new InvalidArgumentError(`group ${group} already has a live transport view`);
    }
    const v = new GroupView(this, this.carrier, group);
    this.live.set(group, v);
    return v;
  }

  /**
   * Called for a message of a group with no live view (the host may create
   * the replica lazily), then the message is dropped (Raft resends). A
   * snapshot of such a group is reported here with its header and refused.
   */
  onUnknownGroup(handler: UnknownGroupHandler): void {
    if (typeof handler !== "function") {
      throw new InvalidArgumentError("onUnknownGroup expects a function");
    }
    this.unknownGroupHandler = handler;
  }

  /** Keeps `id` on the carrier regardless of views (every node of the cluster, say). */
  pinPeer(id: NodeId, address: PeerAddress): void {
    this.hold(PIN, id, address);
  }

  unpinPeer(id: NodeId): void {
    this.release(PIN, id);
  }

  /** Groups with a live view, ascending. */
  groups(): number[] {
    return [...this.live.keys()].sort((a, b) => a - b);
  }

  /** Messages and snapshots dropped because their group had no live view. */
  get droppedUnknownGroup(): number {
    return this.droppedUnknown;
  }

  /** @internal A view or the pin adds (or moves) a peer. */
  hold(holder: object, id: NodeId, address: PeerAddress): void {
    this.carrier.addPeer(id, address); // validates; moves a known peer
    const set = this.holders.get(id) ?? new Set<object>();
    this.holders.set(id, set);
    set.add(holder);
  }

  /** @internal A view or the pin lets go of a peer; the last one removes it from the carrier. */
  release(holder: object, id: NodeId): void {
    const set = this.holders.get(id);
    if (set === undefined || !set.delete(holder)) return;
    if (set.size > 0) return;
    this.holders.delete(id);
    this.carrier.removePeer(id);
  }

  /** @internal A view was stopped. */
  detach(v: GroupView): void {
    if (this.live.get(v.group) === v) this.live.delete(v.group);
  }

  private unknownGroup(group: number, m: Message): void {
    this.droppedUnknown++;
    this.unknownGroupHandler?.(group, m);
  }

  private dispatchMessage(m: Message, group: number): void {
    const v = this.live.get(group);
    if (v === undefined) this.unknownGroup(group, m);
    else v.message(m);
  }

  private async dispatchSnapshot(
    m: Message,
    data: AsyncIterable<Uint8Array>,
    group: number,
  ): Promise<void> {
    const v = this.live.get(group);
    if (v === undefined) {
      this.unknownGroup(group, m);
      throw new Error(`node ${this.carrier.id} has no replica of group ${group}`);
    }
    await v.snapshot(m, data);
  }

  /** Every live view hears it; one throwing handler does not keep it from the others. */
  private fanOutUnreachable(peer: NodeId): void {
    let first: unknown;
    let threw = false;
    for (const v of [...this.live.values()]) {
      try {
        v.unreachable(peer);
      } catch (err) {
        if (!threw) first = err;
        threw = true;
      }
    }
    if (threw) throw first; // the carrier logs it
  }
}

/**
 * One group's Transport on a GroupMux. `start()` resolves at once (the
 * carrier's owner starts it); `stop()` detaches the view: its handlers hear
 * nothing more, its sends are dropped, its peers are released, and a new
 * view of the group may be made. The carrier keeps running.
 */
class GroupView extends TransportHandlers implements Transport {
  private stopped = false;
  private readonly peers = new Set<NodeId>();

  constructor(
    private readonly mux: GroupMux,
    private readonly carrier: Transport,
    readonly group: number,
  ) {
    super();
  }

  get id(): NodeId {
    return this.carrier.id;
  }

  async start(): Promise<void> {
    if (this.stopped) {
      throw new InvalidArgumentError(`the transport view of group ${this.group} was stopped`);
    }
  }

  send(messages: readonly Message[], group?: number): void {
    this.checkGroup(group);
    if (this.stopped) return;
    this.carrier.send(messages, this.group);
  }

  async sendSnapshot(
    message: Message,
    data: AsyncIterable<Uint8Array>,
    options: SendSnapshotOptions = {},
  ): Promise<boolean> {
    this.checkGroup(options.group);
    if (this.stopped) return false;
    return this.carrier.sendSnapshot(message, data, { ...options, group: this.group });
  }

  addPeer(id: NodeId, address: PeerAddress): void {
    if (this.stopped) return;
    this.mux.hold(this, id, address);
    this.peers.add(id);
  }

  removePeer(id: NodeId): void {
    if (!this.peers.delete(id)) return;
    this.mux.release(this, id);
  }

  /** Forwarded to the carrier: the payload is a node's, not the group's. */
  sendControl(to: NodeId, payload: Uint8Array): boolean {
    return this.carrier.sendControl(to, payload);
  }

  /** Control payloads belong to the carrier's owner: register the handler there. */
  override onControl(_handler: ControlHandler): void {
    throw new InvalidArgumentError(
      "a group's transport view has no control channel: call onControl on the carrier",
    );
  }

  stats(): TransportStats {
    return this.carrier.stats();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.mux.detach(this);
    for (const id of [...this.peers]) this.removePeer(id);
  }

  /** @internal */
  message(m: Message): void {
    this.messageHandler?.(m, this.group);
  }

  /** @internal A view without a snapshot handler refuses the snapshot. */
  async snapshot(m: Message, data: AsyncIterable<Uint8Array>): Promise<void> {
    const handler = this.snapshotHandler;
    if (handler === undefined) {
      throw new Error(`group ${this.group} has no snapshot handler`);
    }
    await handler(m, data, this.group);
  }

  /** @internal */
  snapshotStatus(peer: NodeId, ok: boolean): void {
    this.snapshotStatusHandler?.(peer, ok, this.group);
  }

  /** @internal */
  unreachable(peer: NodeId): void {
    this.unreachableHandler?.(peer);
  }

  private checkGroup(group: number | undefined): void {
    if (group !== undefined && group !== this.group) {
      throw new InvalidArgumentError(
        `the transport view of group ${this.group} cannot send for group ${String(group)}`,
      );
    }
  }
}
