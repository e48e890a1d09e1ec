import type { KvAccess } from "./kv-access.js";

/** What a member's status reports beside its figures. */
export interface MemberProblems {
  /** What keeps this member from serving as a healthy part of its cluster; empty when nothing does. */
  readonly errors: string[];
  /** Peers it cannot authenticate with while it still has a leader: the cluster is degraded, not this member. */
  readonly peerWarnings: string[];
}

/**
 * The first errors are etcd's own status errors, word for word (etcdctl
 * prints them): no leader, and each raised alarm as etcd prints an
 * AlarmMember. Then each peer whose handshake failed for a reason other than
 * being down, usually a cluster secret or certificate that differs between
 * members: an error while the member knows no leader (it is the one cut
 * off), a warning while it has one (a peer is).
 */
export function memberProblems(kv: KvAccess): MemberProblems {
  const node = kv.node;
  const leaderless = node.status().leader === 0;
  const errors = [
    ...(leaderless ? ["etcdserver: no leader"] : []),
    ...kv.store.alarms.list().map((a) => `memberID:${a.memberId} alarm:${a.alarm} `),
  ];
  const refusals: string[] = [];
  for (const peer of node.transportStats().peers) {
    if (peer.handshakeFailure === undefined) continue;
    refusals.push(
      `cannot authenticate with peer ${peer.id}: ${peer.handshakeFailure} (do the members share one cluster secret and trust each other's certificates?)`,
    );
  }
  return leaderless
    ? { errors: [...errors, ...refusals], peerWarnings: [] }
    : { errors, peerWarnings: refusals };
}
