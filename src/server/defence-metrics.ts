import { Counter, Gauge, type Registry } from "prom-client";
import type { ConnectionRefusal } from "./connection-limits.js";

/**
 * Counters of the member's defences acting: refused client connections,
 * refused peer messages, refused credentials and membership changes. Every
 * label comes from a fixed set the member defines (a reason or an error
 * code), never from what a client sent, so an attacker cannot grow the
 * number of series.
 */

/** What the node offers the scrape-time counters; a RaftNode in production. */
export interface DefenceSources {
  /** Peer messages refused since the node started, by the message guard's reason. */
  peerMessageRejections?(): ReadonlyMap<string, number>;
  transportStats?(): {
    readonly droppedMisaddressed: number;
    readonly displacedConnections: number;
  };
}

export const CONNECTION_REFUSALS: readonly ConnectionRefusal[] = ["member_cap", "host_cap"];

/** The auth refusals counted; other auth errors (e.g. AUTH_NOT_ENABLED) are misuse, not refusal. */
export const AUTH_REFUSAL_CODES = [
  "AUTH_REQUIRED",
  "INVALID_AUTH_TOKEN",
  "AUTH_FAILED",
  "PERMISSION_DENIED",
] as const;
export type AuthRefusalCode = (typeof AUTH_REFUSAL_CODES)[number];

/** The membership safety checks' refusals, and the change queue's. */
export const MEMBERSHIP_REFUSAL_CODES = [
  "UNSAFE_RECONFIGURATION",
  "LEARNER_NOT_READY",
  "TOO_MANY_LEARNERS",
  "MEMBERSHIP_CHANGE_BUSY",
] as const;
export type MembershipRefusalCode = (typeof MEMBERSHIP_REFUSAL_CODES)[number];

export function isAuthRefusalCode(code: string): code is AuthRefusalCode {
  return (AUTH_REFUSAL_CODES as readonly string[]).includes(code);
}

export function isMembershipRefusalCode(code: string): code is MembershipRefusalCode {
  return (MEMBERSHIP_REFUSAL_CODES as readonly string[]).includes(code);
}

/** A counter whose value lives elsewhere (a node's or transport's tally), read at each scrape. */
function setCounter(counter: Counter, value: number): void {
  counter.reset();
  counter.inc(value);
}

export class DefenceMetrics {
  private readonly connectionsRefused: Counter<"reason">;
  private readonly authRefusals: Counter<"code">;
  private readonly membershipRefusals: Counter<"code">;
  private readOpenConnections: (() => number) | undefined;

  constructor(registry: Registry, prefix: string, sources: () => DefenceSources | undefined) {
    const registers = [registry];
    this.connectionsRefused = new Counter({
      name: `${prefix}client_connections_refused_total`,
      help: "Client connections closed at accept, by the cap they met (member_cap or host_cap).",
      labelNames: ["reason"] as const,
      registers,
    });
    const readOpen = () => this.readOpenConnections?.();
    new Gauge({
      name: `${prefix}client_connections_open`,
      help: "Client connections open now (admitted by the connection caps).",
      registers,
      collect() {
        const v = readOpen();
        if (v !== undefined) this.set(v);
      },
    });
    new Counter({
      name: `${prefix}peer_messages_rejected_total`,
      help: "Peer messages the node refused as invalid before they reached Raft, by reason.",
      labelNames: ["reason"] as const,
      registers,
      collect() {
        const byReason = sources()?.peerMessageRejections?.();
        if (byReason === undefined) return;
        this.reset();
        for (const [reason, count] of byReason) this.inc({ reason }, count);
      },
    });
    new Counter({
      name: `${prefix}peer_messages_misaddressed_total`,
      help: "Peer messages dropped because `from` was not the authenticated peer or `to` not this node.",
      registers,
      collect() {
        const stats = sources()?.transportStats?.();
        if (stats !== undefined) setCounter(this, stats.droppedMisaddressed);
      },
    });
    new Counter({
      name: `${prefix}peer_handshakes_displaced_total`,
      help: "Unauthenticated peer connections closed to make room for newer ones (a flood, usually).",
      registers,
      collect() {
        const stats = sources()?.transportStats?.();
        if (stats !== undefined) setCounter(this, stats.displacedConnections);
      },
    });
    this.authRefusals = new Counter({
      name: `${prefix}auth_refusals_total`,
      help: "Client requests refused by authentication or access checks, by error code.",
      labelNames: ["code"] as const,
      registers,
    });
    this.membershipRefusals = new Counter({
      name: `${prefix}membership_changes_refused_total`,
      help: "Membership changes refused by the safety checks or the change queue, by error code.",
      labelNames: ["code"] as const,
      registers,
    });
    // Present from the start so a scrape shows 0 rather than no series.
    for (const reason of CONNECTION_REFUSALS) this.connectionsRefused.inc({ reason }, 0);
    for (const code of AUTH_REFUSAL_CODES) this.authRefusals.inc({ code }, 0);
    for (const code of MEMBERSHIP_REFUSAL_CODES) this.membershipRefusals.inc({ code }, 0);
  }

  connectionRefused(reason: ConnectionRefusal): void {
    this.connectionsRefused.inc({ reason });
  }

  /** Makes `client_connections_open` read `count` at each scrape. */
  setOpenConnections(count: () => number): void {
    this.readOpenConnections = count;
  }

  authRefused(code: AuthRefusalCode): void {
    this.authRefusals.inc({ code });
  }

  membershipChangeRefused(code: MembershipRefusalCode): void {
    this.membershipRefusals.inc({ code });
  }
}
