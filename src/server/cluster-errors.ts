import { NotLeaderError, Role } from "../raft/core/index.js";
import type { RaftNode } from "../raft/node/index.js";
import { HttpApiError } from "./errors.js";

/** The member id named in a request is not in the cluster's configuration. */
export class MemberNotFoundError extends HttpApiError {
  constructor(id: number) {
    super(404, "MEMBER_NOT_FOUND", `member ${id} is not in the cluster`);
  }
}

/** member/add named an id that is already a member. */
export class MemberExistsError extends HttpApiError {
  constructor(id: number) {
    super(409, "MEMBER_EXISTS", `member ${id} is already in the cluster`);
  }
}

/** member/add or member/update named a peer address another member has. */
export class PeerAddressInUseError extends HttpApiError {
  constructor(peer: string, holder: number) {
    super(409, "MEMBER_EXISTS", `peer address ${peer} is already member ${holder}'s`);
  }
}

/** member/promote named a voter, or transfer-leadership a learner. */
export class MemberRoleError extends HttpApiError {
  constructor(message: string) {
    super(400, "MEMBER_ROLE", message);
  }
}

/** Leader-only calls fail fast on a follower, with the leader to ask instead (421). */
export function requireLeader(node: Pick<RaftNode<unknown>, "status">, what: string): void {
  const st = node.status();
  if (st.role !== Role.Leader) throw new NotLeaderError(st.leader, what);
}
