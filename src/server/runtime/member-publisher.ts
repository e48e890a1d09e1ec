import {
  encodeMemberAttributes,
  type KvResult,
  type KvStore,
  type MemberAttributes,
} from "../../kv/index.js";
import { Role } from "../../raft/core/index.js";
import type { RaftNode } from "../../raft/node/index.js";

export interface PublisherLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

function same(a: MemberAttributes | undefined, b: MemberAttributes): boolean {
  return (
    a !== undefined &&
    a.name === b.name &&
    a.peerUrls.join(",") === b.peerUrls.join(",") &&
    a.clientUrls.join(",") === b.clientUrls.join(",")
  );
}

/**
 * Gets member attributes into the log. Followers cannot propose (they answer
 * NOT_LEADER rather than forward), so whichever node leads publishes: its own
 * attributes when they differ from the replicated ones, and those of founding
 * members it knows from the initial cluster but the log has not yet named.
 * A follower restarted with new URLs is published once it leads (or by
 * member/add for a new member); until then the old ones stay listed.
 */
export class MemberPublisher {
  readonly #timer: NodeJS.Timeout;
  #inFlight = false;

  constructor(
    private readonly node: RaftNode<KvResult>,
    private readonly store: KvStore,
    private readonly self: MemberAttributes,
    private readonly founders: readonly MemberAttributes[],
    private readonly log: PublisherLogger,
    intervalMs: number,
    private readonly timeoutMs: number,
  ) {
    this.#timer = setInterval(() => void this.tick(), intervalMs);
    this.#timer.unref();
  }

  /** Attributes the leader should propose now, its own first. */
  private due(): MemberAttributes | undefined {
    if (!same(this.store.members.get(this.self.id), this.self)) return this.self;
    const cs = this.node.status().confState;
    return this.founders.find(
      (m) =>
        m.clientUrls.length > 0 &&
        this.store.members.get(m.id) === undefined &&
        (cs.voters.includes(m.id) || cs.learners.includes(m.id)),
    );
  }

  private async tick(): Promise<void> {
    if (this.#inFlight) return;
    let st: ReturnType<RaftNode<KvResult>["status"]>;
    try {
      st = this.node.status();
    } catch {
      return;
    }
    // Wait until this leader has applied all it committed, or it may publish what the log already has.
    if (st.role !== Role.Leader || st.appliedIndex < st.commitIndex) return;
    const attrs = this.due();
    if (attrs === undefined) return;
    this.#inFlight = true;
    try {
      await this.node.propose(encodeMemberAttributes(attrs), { timeoutMs: this.timeoutMs });
      this.log.info(
        { member: attrs.id, name: attrs.name, clientUrls: attrs.clientUrls },
        "published member attributes",
      );
    } catch (err) {
      this.log.warn(
        { member: attrs.id, err: (err as Error).message },
        "publishing member attributes failed; will retry",
      );
    } finally {
      this.#inFlight = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
