import { signMemberToken } from "../../auth/index.js";
import {
  encodeMemberAttributes,
  type KvResult,
  type KvStore,
  type MemberAttributes,
} from "../../kv/index.js";
import { Role } from "../../raft/core/index.js";
import type { RaftNode } from "../../raft/node/index.js";
import { type ClientTls, postJson } from "./post-json.js";

export interface PublisherLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface PublisherOptions {
  readonly node: RaftNode<KvResult>;
  readonly store: KvStore;
  readonly self: MemberAttributes;
  /** Founding members from the initial cluster, published by a leader when the log lacks them. */
  readonly founders: readonly MemberAttributes[];
  readonly log: PublisherLogger;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** For a follower's request to the leader's client API over https. */
  readonly tls: ClientTls;
  /**
   * Signs this member's credential for member/update (memberTokenKey of the
   * cluster secret), so publishing keeps working while client auth is
   * enabled: only a holder of the secret can produce it, and the leader lets
   * it update nothing but this member's own attributes.
   */
  readonly memberTokenKey?: Uint8Array;
}

const sameList = (a: readonly string[], b: readonly string[]) => a.join("\n") === b.join("\n");

/** What a follower can publish through member/update: name and client URLs. */
function sameIdentity(a: MemberAttributes | undefined, b: MemberAttributes): boolean {
  return (
    a !== undefined &&
    a.name === b.name &&
    sameList(a.clientUrls, b.clientUrls) &&
    sameList(a.grpcUrls ?? [], b.grpcUrls ?? [])
  );
}

function same(a: MemberAttributes | undefined, b: MemberAttributes): boolean {
  return sameIdentity(a, b) && sameList(a!.peerUrls, b.peerUrls);
}

/** A follower whose request failed waits this many intervals before it asks again. */
const FOLLOWER_RETRY_INTERVALS = 10;

/**
 * Gets member attributes into the log, as etcd members publish theirs. The
 * leader proposes its own attributes when they differ from the replicated
 * ones, and those of founding members the log has not named yet. A follower
 * cannot propose (writes are not forwarded), so it asks the leader over the
 * client API (`member/update`) to publish its name and client URLs.
 */
export class MemberPublisher {
  readonly #o: PublisherOptions;
  readonly #timer: NodeJS.Timeout;
  #inFlight = false;
  #skipTicks = 0;

  constructor(options: PublisherOptions) {
    this.#o = options;
    this.#timer = setInterval(() => void this.tick(), options.intervalMs);
    this.#timer.unref();
  }

  /** Attributes the leader should propose now, its own first. */
  private dueOnLeader(): MemberAttributes | undefined {
    const { store, self, founders, node } = this.#o;
    if (!same(store.members.get(self.id), self)) return self;
    const cs = node.status().confState;
    return founders.find(
      (m) =>
        m.clientUrls.length > 0 &&
        store.members.get(m.id) === undefined &&
        (cs.voters.includes(m.id) || cs.learners.includes(m.id)),
    );
  }

  private async tick(): Promise<void> {
    if (this.#inFlight) return;
    if (this.#skipTicks > 0) {
      this.#skipTicks--;
      return;
    }
    let st: ReturnType<RaftNode<KvResult>["status"]>;
    try {
      st = this.#o.node.status();
    } catch {
      return;
    }
    // Until this node has applied all it knows committed, it may publish what the log already has.
    if (st.leader === 0 || st.appliedIndex < st.commitIndex) return;
    this.#inFlight = true;
    try {
      if (st.role === Role.Leader) await this.publishAsLeader();
      else await this.askLeader(st.leader);
    } finally {
      this.#inFlight = false;
    }
  }

  private async publishAsLeader(): Promise<void> {
    const attrs = this.dueOnLeader();
    if (attrs === undefined) return;
    try {
      await this.#o.node.propose(encodeMemberAttributes(attrs), { timeoutMs: this.#o.timeoutMs });
      this.#o.log.info(
        { member: attrs.id, name: attrs.name, clientUrls: attrs.clientUrls },
        "published member attributes",
      );
    } catch (err) {
      this.#o.log.warn(
        { member: attrs.id, err: (err as Error).message },
        "publishing member attributes failed; will retry",
      );
    }
  }

  private async askLeader(leader: number): Promise<void> {
    const { store, self } = this.#o;
    if (sameIdentity(store.members.get(self.id), self)) return;
    const leaderUrl = store.members.clientUrl(leader);
    // A member/add or a leader publishes founders; until then there is nobody to ask.
    if (leaderUrl === undefined || store.members.get(self.id) === undefined) return;
    const body = {
      ID: String(self.id),
      name: self.name,
      clientURLs: self.clientUrls,
      grpcURLs: self.grpcUrls ?? [],
    };
    try {
      const key = this.#o.memberTokenKey;
      const headers: Record<string, string> =
        key === undefined
          ? {}
          : { authorization: `Member ${await signMemberToken(self.id, key, Date.now())}` };
      const reply = await postJson(
        leaderUrl,
        "/v3/cluster/member/update",
        body,
        this.#o.tls,
        this.#o.timeoutMs,
        headers,
      );
      if (reply.status !== 200) throw new Error(`${reply.status} ${JSON.stringify(reply.body)}`);
      this.#o.log.info(
        { leader, leaderUrl },
        "asked the leader to publish this member's attributes",
      );
    } catch (err) {
      this.#skipTicks = FOLLOWER_RETRY_INTERVALS;
      this.#o.log.warn(
        { leader, leaderUrl, err: (err as Error).message },
        "asking the leader to publish this member's attributes failed; will retry",
      );
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
