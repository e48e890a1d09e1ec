/**
 * Reading a cluster's members during a phase: which one leads, the highest
 * term any of them reports, and the leader's counters at one instant.
 */
import { cpuSeconds } from "../support/proc-stats.js";
import { waitFor } from "../support/wait.js";
import { metricSum } from "./member-http.js";
import type { KvTarget, MemberStatus } from "./target.js";

const STATUS_TIMEOUT_MS = 2_000;
const LEADER_WAIT_MS = 15_000;

/** Every member's status; a member that does not answer in time is undefined. */
export async function memberStatuses(target: KvTarget): Promise<(MemberStatus | undefined)[]> {
  return Promise.all(
    target.endpoints.map((_, i) =>
      target.memberStatus(i, STATUS_TIMEOUT_MS).catch(() => undefined),
    ),
  );
}

/** The index of the member that says it leads (waits, bounded, through an election). */
export async function leaderIndex(target: KvTarget): Promise<number> {
  let found = -1;
  await waitFor(`${target.name} leader`, LEADER_WAIT_MS, async () => {
    found = (await memberStatuses(target)).findIndex((s) => s?.isLeader === true);
    return found >= 0;
  });
  return found;
}

/** The highest term any member reports now; NaN when none answers. */
export async function highestTerm(target: KvTarget): Promise<number> {
  const terms = (await memberStatuses(target))
    .map((s) => s?.term ?? Number.NaN)
    .filter((t) => Number.isFinite(t));
  return terms.length === 0 ? Number.NaN : Math.max(...terms);
}

export interface LeaderReading {
  readonly atMs: number;
  readonly cpuSeconds: number;
  readonly fsyncs: number;
  readonly appliedIndex: number;
  readonly term: number;
  readonly keepAlivesAnswered: number;
}

/** The leader's CPU, fsync count, applied index and term, and the client's keep-alive count. */
export async function readLeader(target: KvTarget, leader: number): Promise<LeaderReading> {
  const [metrics, status] = await Promise.all([
    target.metricsText(leader, STATUS_TIMEOUT_MS),
    target.memberStatus(leader, STATUS_TIMEOUT_MS),
  ]);
  return {
    atMs: performance.now(),
    cpuSeconds: cpuSeconds(target.pids[leader]!),
    fsyncs: metricSum(metrics, target.fsyncMetric),
    appliedIndex: status.appliedIndex,
    term: status.term,
    keepAlivesAnswered: target.keepAlivesAnswered(),
  };
}
