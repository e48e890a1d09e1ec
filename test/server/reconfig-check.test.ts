import { describe, expect, it } from "vitest";
import {
  type ClusterHealth,
  checkLearnerCapacity,
  checkLearnerReady,
  checkReconfiguration,
  countAfter,
  learnerReadyIndex,
  quorumOf,
} from "../../src/server/reconfig-check.js";
import {
  LearnerNotReadyError,
  TooManyLearnersError,
  UnsafeReconfigurationError,
} from "../../src/server/reconfig-errors.js";

/** Leader 1; `up` lists the members it hears from (the leader always counts). */
function health(voters: number[], up: number[], learners: number[] = []): ClusterHealth {
  return { leaderId: 1, voters, learners, connected: new Set([1, ...up]) };
}

function refusal(f: () => void): UnsafeReconfigurationError {
  try {
    f();
  } catch (err) {
    if (err instanceof UnsafeReconfigurationError) return err;
    throw err;
  }
  throw new Error("the change was allowed");
}

describe("strict reconfiguration check", () => {
  it("quorum is a strict majority", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(quorumOf)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });

  it("adding unreachable voters one by one is allowed until the next would lose the quorum", () => {
    let voters = [1, 2, 3];
    const up = [2, 3];
    const allowed: number[] = [];
    for (const id of [4, 5, 6, 7]) {
      try {
        checkReconfiguration(health(voters, up), { kind: "addVoter", id });
      } catch (err) {
        expect(err).toBeInstanceOf(UnsafeReconfigurationError);
        break;
      }
      allowed.push(id);
      voters = [...voters, id];
    }
    // 3 alive: 4 voters (quorum 3) and 5 voters (quorum 3) hold; 6 voters need 4.
    expect(allowed).toEqual([4, 5]);
    const err = refusal(() =>
      checkReconfiguration(health(voters, up), { kind: "addVoter", id: 6 }),
    );
    expect(err).toMatchObject({
      code: "UNSAFE_RECONFIGURATION",
      statusCode: 409,
      voters: 6,
      connected: 3,
      quorum: 4,
    });
    expect(err.message).toBe(
      "adding voter 6 refused: it would leave 3 connected of 6 voters, fewer than the quorum of 4; " +
        "add it as a learner, or bring the unreachable voters back or remove them first",
    );
  });

  it("refuses a voter added to a cluster that is already at its quorum", () => {
    // 3 voters, 2 connected: a 4th voter makes the quorum 3 with 2 alive.
    const err = refusal(() =>
      checkReconfiguration(health([1, 2, 3], [2]), { kind: "addVoter", id: 9 }),
    );
    expect([err.voters, err.connected, err.quorum]).toEqual([4, 2, 3]);
  });

  it("always allows removing a voter the leader does not hear from, or a learner", () => {
    // Already below quorum: removing the dead ones is how the operator gets out.
    const broken = health([1, 2, 3, 4, 5, 6], [2, 3], [7]);
    for (const id of [4, 5, 6, 7]) {
      expect(() => checkReconfiguration(broken, { kind: "remove", id })).not.toThrow();
    }
    expect(countAfter(broken, { kind: "remove", id: 6 })).toEqual({
      voters: 5,
      connected: 3,
      quorum: 3,
    });
  });

  it("refuses removing a connected voter when the rest would fall below quorum", () => {
    const degraded = health([1, 2, 3], [2]);
    const err = refusal(() => checkReconfiguration(degraded, { kind: "remove", id: 2 }));
    expect([err.voters, err.connected, err.quorum]).toEqual([2, 1, 2]);
    expect(err.message).toMatch(/^removing voter 2 refused: .*remove them first$/);
    // Healthy: any one voter may go, the leader included.
    const healthy = health([1, 2, 3], [2, 3]);
    expect(() => checkReconfiguration(healthy, { kind: "remove", id: 2 })).not.toThrow();
    expect(() => checkReconfiguration(healthy, { kind: "remove", id: 1 })).not.toThrow();
    // The leader counts as connected: removing it from a degraded cluster is refused.
    expect(() => checkReconfiguration(degraded, { kind: "remove", id: 1 })).toThrow(
      UnsafeReconfigurationError,
    );
  });

  it("removing an id that is not a voter changes nothing and passes", () => {
    expect(() => checkReconfiguration(health([1], []), { kind: "remove", id: 5 })).not.toThrow();
  });

  it("a connected learner being promoted counts toward the quorum it joins", () => {
    // 3 voters, 1 dead; the learner 4 answers: 4 voters, 3 connected, quorum 3.
    const h = health([1, 2, 3], [2, 4], [4]);
    expect(() => checkReconfiguration(h, { kind: "promote", id: 4 })).not.toThrow();
    // The same learner unreachable: 4 voters, 2 connected.
    const err = refusal(() =>
      checkReconfiguration(health([1, 2, 3], [2], [4]), { kind: "promote", id: 4 }),
    );
    expect([err.voters, err.connected, err.quorum]).toEqual([4, 2, 3]);
    expect(err.message).toMatch(/^promoting learner 4 refused/);
  });
});

describe("learner readiness", () => {
  it("needs 90% of the leader's commit index, rounded up", () => {
    expect([0, 1, 9, 10, 11, 100, 1001].map(learnerReadyIndex)).toEqual([0, 1, 9, 9, 10, 90, 901]);
  });

  it("a connected learner at the threshold is ready; one below it is not", () => {
    expect(() => checkLearnerReady({ id: 4, connected: true, matchIndex: 90 }, 100)).not.toThrow();
    const behind = () => checkLearnerReady({ id: 4, connected: true, matchIndex: 89 }, 100);
    expect(behind).toThrow(LearnerNotReadyError);
    expect(behind).toThrow(
      "learner 4 is not ready to vote: it holds the log up to index 89, and needs 90 " +
        "(90% of the leader's commit index); retry once it has caught up",
    );
  });

  it("a learner the leader does not hear from is never ready, however far its log got", () => {
    let err: unknown;
    try {
      checkLearnerReady({ id: 4, connected: false, matchIndex: 100 }, 100);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LearnerNotReadyError);
    expect(err).toMatchObject({
      code: "LEARNER_NOT_READY",
      statusCode: 412,
      connected: false,
      matchIndex: 100,
      requiredIndex: 90,
    });
  });
});

describe("learner capacity", () => {
  it("refuses a learner beyond the limit, naming both numbers", () => {
    expect(() => checkLearnerCapacity(health([1, 2, 3], [2, 3]), 1)).not.toThrow();
    const full = () => checkLearnerCapacity(health([1, 2, 3], [2, 3], [4]), 1);
    expect(full).toThrow(TooManyLearnersError);
    expect(full).toThrow(
      "member add refused: the cluster already holds 1 of at most 1 learners; promote or remove one first",
    );
    expect(() => checkLearnerCapacity(health([1], [], []), 0)).toThrow(TooManyLearnersError);
  });
});
