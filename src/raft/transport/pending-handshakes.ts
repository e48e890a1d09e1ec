import type { NodeId } from "../core/types.js";

/** A connection that has not authenticated yet; `drop` closes it. */
export interface PendingConnection {
  /** "address:port", unique among live TCP connections. */
  readonly key: string;
  readonly host: string;
  drop(reason: string): void;
}

export interface PendingHandshakesLimits {
  /** Anonymous pending connections (no valid hello yet), in total. */
  readonly maxTotal: number;
  /** Anonymous pending connections from one remote host. */
  readonly maxPerHost: number;
  /** Pending connections that claimed one peer id in a valid hello. */
  readonly maxPerClaimedPeer: number;
}

/**
 * The listener's admission policy for connections that have not proven the
 * cluster secret yet. Every new connection is admitted; when a bound is
 * reached the oldest connection of the same remote host gives way, or, at the
 * total bound, the oldest of the host holding the most. So a flood of idle
 * connections can neither exhaust the process nor keep a peer out: the
 * peer's fresh connection displaces a flood connection, sends its hello at
 * once, and from then on competes only with connections claiming the same
 * peer id (at most `maxPerClaimedPeer`, oldest first out), which a flood of
 * strangers does not touch. Together with the handshake deadline this bounds
 * what unauthenticated connections can hold: `maxTotal` anonymous plus
 * `maxPerClaimedPeer` per configured peer.
 */
export class PendingHandshakes {
  /** Anonymous connections per remote host, oldest first (Map and Set keep insertion order). */
  private readonly byHost = new Map<string, Map<string, PendingConnection>>();
  /** Connections that sent a valid hello naming a configured peer, per claimed id, oldest first. */
  private readonly byClaimedPeer = new Map<NodeId, Map<string, PendingConnection>>();
  /** Where each pending connection is counted: its host's pool or a claimed peer id's. */
  private readonly pools = new Map<string, Map<string, PendingConnection>>();
  private anonymous = 0;
  /** Connections closed to make room, since the start. */
  displaced = 0;

  constructor(private readonly limits: PendingHandshakesLimits) {}

  /** Connections pending now, anonymous or claimed. */
  get size(): number {
    return this.pools.size;
  }

  has(key: string): boolean {
    return this.pools.has(key);
  }

  /** Counts a new connection, displacing older ones where a bound is reached. */
  admit(conn: PendingConnection): void {
    this.release(conn.key); // a key is unique among live connections; never count one twice
    const hostSet = this.byHost.get(conn.host);
    if (hostSet !== undefined && hostSet.size >= this.limits.maxPerHost) {
      this.displaceOldest(hostSet, `more than ${this.limits.maxPerHost} from one host`);
    } else if (this.anonymous >= this.limits.maxTotal) {
      const busiest = this.busiestHost();
      if (busiest !== undefined) {
        this.displaceOldest(busiest, `more than ${this.limits.maxTotal} in total`);
      }
    }
    const set = this.byHost.get(conn.host) ?? new Map<string, PendingConnection>();
    this.byHost.set(conn.host, set);
    set.set(conn.key, conn);
    this.pools.set(conn.key, set);
    this.anonymous++;
  }

  /** The connection sent a valid hello claiming to be `peerId`: it leaves the anonymous pool. */
  claim(key: string, peerId: NodeId): void {
    const pool = this.pools.get(key);
    const conn = pool?.get(key);
    if (conn === undefined || pool !== this.byHost.get(conn.host)) return;
    this.release(key);
    const set = this.byClaimedPeer.get(peerId) ?? new Map<string, PendingConnection>();
    this.byClaimedPeer.set(peerId, set);
    if (set.size >= this.limits.maxPerClaimedPeer) {
      this.displaceOldest(
        set,
        `more than ${this.limits.maxPerClaimedPeer} claiming node ${peerId}`,
      );
    }
    set.set(key, conn);
    this.pools.set(key, set);
  }

  /** The connection authenticated or closed. Idempotent. */
  release(key: string): void {
    const pool = this.pools.get(key);
    const conn = pool?.get(key);
    if (pool === undefined || conn === undefined) return;
    this.pools.delete(key);
    pool.delete(key);
    if (pool === this.byHost.get(conn.host)) {
      this.anonymous--;
      if (pool.size === 0) this.byHost.delete(conn.host);
      return;
    }
    if (pool.size > 0) return;
    for (const [peerId, set] of this.byClaimedPeer) {
      if (set === pool) this.byClaimedPeer.delete(peerId);
    }
  }

  private busiestHost(): Map<string, PendingConnection> | undefined {
    let busiest: Map<string, PendingConnection> | undefined;
    for (const set of this.byHost.values()) {
      if (busiest === undefined || set.size > busiest.size) busiest = set;
    }
    return busiest;
  }

  private displaceOldest(set: Map<string, PendingConnection>, why: string): void {
    const oldest = set.values().next();
    if (oldest.done === true) return;
    this.displaced++;
    // drop() closes the socket; its close handler calls release(), which updates the counts.
    this.release(oldest.value.key);
    oldest.value.drop(`displaced by a newer unauthenticated connection: ${why}`);
  }
}
