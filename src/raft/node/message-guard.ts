import { LogThrottle, type WarnSink } from "../../log-throttle.js";
import {
  type BasicStatus,
  MAX_TERM_JUMP,
  type Message,
  MessageType,
  NO_NODE,
  type NodeId,
  Role,
} from "../core/index.js";
import { FREE_TERM_STEP, TermCatchUp } from "./term-catch-up.js";

/**
 * Why a peer's message was refused. Stable: logs, metrics and tests tell the
 * cases apart by it.
 */
export type PeerMessageRejection =
  /** Not addressed to this node, or claiming to come from it. */
  | "misaddressed"
  /** The term is more than MAX_TERM_JUMP above ours, or a large move came too soon (see term-catch-up.ts). */
  | "term-jump"
  /** Term 0 on a message that must carry one: it would skip every term check. */
  | "missing-term"
  /** A term on a forwarded request (proposal, read, transfer), which carries none. */
  | "unexpected-term"
  /** The message's log term is newer than its own term. */
  | "log-term-above-term"
  /** Entries on a message type that carries none, or a proposal without any. */
  | "unexpected-entries"
  /** Append entries that do not follow on from `index` one by one. */
  | "entries-not-contiguous"
  /** An appended entry's term is 0, above the message's term, or below the term before it. */
  | "entry-term"
  /** A snapshot at index or term 0, or from a term newer than the message. */
  | "snapshot-metadata"
  /** Leader traffic for our current term from a node that is not its leader. */
  | "second-leader"
  /** An acknowledgement past the end of this leader's log. */
  | "ack-beyond-log";

export interface PeerMessageProblem {
  readonly reason: PeerMessageRejection;
  readonly detail: string;
}

/** Requests a follower forwards to the leader: they carry no term of their own. */
const FORWARDED: ReadonlySet<MessageType> = new Set([
  MessageType.Prop,
  MessageType.ReadIndex,
  MessageType.TransferLeader,
]);

/** Messages only the leader of their term sends. */
const FROM_LEADER: ReadonlySet<MessageType> = new Set([
  MessageType.App,
  MessageType.Heartbeat,
  MessageType.Snap,
  MessageType.TimeoutNow,
]);

/**
 * Checks a peer's message against itself and against this node's state; the
 * transport has already checked its shape and absolute ranges. Everything
 * refused here is something no correct peer sends, and something the core
 * would otherwise trust: a term it would adopt and persist, entries it would
 * splice into its log, a leader it would follow. With `farTermAllowed` a
 * term more than MAX_TERM_JUMP above ours is let through (TermCatchUp says
 * the cluster has been there long enough).
 */
export function checkPeerMessage(
  m: Message,
  local: BasicStatus,
  farTermAllowed = false,
): PeerMessageProblem | undefined {
  // An answer to a message "from" ourselves would be addressed to ourselves,
  // which the core treats as a broken invariant.
  if (m.to !== local.id || m.from === local.id) {
    return problem("misaddressed", `${m.type} from node ${m.from} to node ${m.to}`);
  }
  if (FORWARDED.has(m.type)) {
    if (m.term !== 0) return problem("unexpected-term", `${m.type} carries term ${m.term}`);
  } else if (m.term === 0) {
    return problem("missing-term", `${m.type} carries no term`);
  }
  if (m.term > local.term + MAX_TERM_JUMP && !farTermAllowed) {
    return problem(
      "term-jump",
      `term ${m.term} is more than ${MAX_TERM_JUMP} above this node's term ${local.term}`,
    );
  }
  if (m.logTerm > m.term && m.term !== 0) {
    return problem("log-term-above-term", `logTerm ${m.logTerm} is above term ${m.term}`);
  }
  if (m.type === MessageType.App) {
    const bad = checkAppendedEntries(m);
    if (bad !== undefined) return bad;
  } else if (m.type === MessageType.Prop) {
    if (m.entries.length === 0) return problem("unexpected-entries", "a proposal without entries");
  } else if (m.entries.length > 0) {
    return problem("unexpected-entries", `${m.type} carries ${m.entries.length} entries`);
  }
  if (m.type === MessageType.Snap && m.snapshot !== undefined) {
    const { index, term } = m.snapshot.metadata;
    if (index === 0 || term === 0 || term > m.term) {
      return problem(
        "snapshot-metadata",
        `snapshot at index ${index} term ${term} in a message of term ${m.term}`,
      );
    }
  }
  // Election safety (thesis 3.6.3): one leader per term. Another node's
  // claim to lead the term we know a leader for is a lie, not news.
  if (
    FROM_LEADER.has(m.type) &&
    m.term === local.term &&
    local.lead !== NO_NODE &&
    local.lead !== m.from
  ) {
    return problem(
      "second-leader",
      `${m.type} from node ${m.from} for term ${m.term}, whose leader is node ${local.lead}`,
    );
  }
  if (
    m.type === MessageType.AppResp &&
    !m.reject &&
    local.role === Role.Leader &&
    m.term === local.term &&
    m.index > local.lastIndex
  ) {
    return problem(
      "ack-beyond-log",
      `acknowledges index ${m.index}, beyond this leader's last index ${local.lastIndex}`,
    );
  }
  return undefined;
}

function checkAppendedEntries(m: Message): PeerMessageProblem | undefined {
  let prevTerm = m.logTerm;
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i]!;
    if (e.index !== m.index + 1 + i) {
      return problem(
        "entries-not-contiguous",
        `entries[${i}] has index ${e.index}, expected ${m.index + 1 + i}`,
      );
    }
    // A leader's log never has a term above the leader's own, and terms never
    // decrease along a log (the Log Matching property relies on both).
    if (e.term === 0 || e.term > m.term || e.term < prevTerm) {
      return problem(
        "entry-term",
        `entries[${i}] has term ${e.term}, outside [${Math.max(prevTerm, 1)}, ${m.term}]`,
      );
    }
    prevTerm = e.term;
  }
  return undefined;
}

function problem(reason: PeerMessageRejection, detail: string): PeerMessageProblem {
  return { reason, detail };
}

/**
 * The node's door for peer messages: refuses what checkPeerMessage finds
 * wrong, counts it, and logs it at most once per reason and peer per
 * interval, since a peer that lies once can lie a thousand times a second.
 */
export class PeerMessageGuard {
  #rejected = 0;
  readonly #rejectedByReason = new Map<PeerMessageRejection, number>();
  readonly #nodeId: NodeId;
  readonly #log: LogThrottle | undefined;
  readonly #catchUp: TermCatchUp;

  /**
   * `termCatchUpMs`: the least time between two large term moves, and how
   * long a peer must speak from more than MAX_TERM_JUMP ahead before this
   * node follows it; `now` is a monotonic clock in ms.
   */
  constructor(
    nodeId: NodeId,
    logger: WarnSink | undefined,
    termCatchUpMs: number,
    now: () => number,
  ) {
    this.#nodeId = nodeId;
    this.#log = logger === undefined ? undefined : new LogThrottle(logger);
    this.#catchUp = new TermCatchUp(termCatchUpMs, now);
  }

  /** Peer messages refused since the node started. */
  get rejected(): number {
    return this.#rejected;
  }

  /** Peer messages refused since the node started, by reason (reasons never seen are absent). */
  get rejectedByReason(): ReadonlyMap<PeerMessageRejection, number> {
    return this.#rejectedByReason;
  }

  /** Returns the problem with `m`, having counted and logged it, or undefined to let it in. */
  check(m: Message, local: BasicStatus): PeerMessageProblem | undefined {
    const termAdmitted = this.#catchUp.admits(m.from, m.term, local.term);
    const found = termAdmitted
      ? checkPeerMessage(m, local, true)
      : problem(
          "term-jump",
          `term ${m.term} is too far above this node's term ${local.term} to follow now`,
        );
    if (found === undefined) {
      if (m.term > local.term + FREE_TERM_STEP) this.#catchUp.moved(m.from);
      return undefined;
    }
    this.#refuse(m, local, found);
    return found;
  }

  /**
   * Checks again a message `check` let in, against state that moved on
   * meanwhile (while a snapshot streamed in). Its term was judged already.
   */
  recheck(m: Message, local: BasicStatus): PeerMessageProblem | undefined {
    const found = checkPeerMessage(m, local, true);
    if (found !== undefined) this.#refuse(m, local, found);
    return found;
  }

  #refuse(m: Message, local: BasicStatus, found: PeerMessageProblem): void {
    this.#rejected++;
    this.#rejectedByReason.set(found.reason, (this.#rejectedByReason.get(found.reason) ?? 0) + 1);
    this.#log?.warn(
      `${found.reason}:${m.from}`,
      {
        node: this.#nodeId,
        peer: m.from,
        type: m.type,
        term: m.term,
        localTerm: local.term,
        reason: found.reason,
        detail: found.detail,
      },
      "refused an invalid message from a peer",
    );
  }
}
