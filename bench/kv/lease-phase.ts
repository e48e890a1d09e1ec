/**
 * Kept-alive leases: grant `options.leases` leases, keep them alive through
 * the client's normal keep-alive loop (the SDK's LeaseKeeper, etcd3's Lease)
 * for `options.leaseMs` (after one keep-alive interval), and measure on the
 * leader over that window: CPU per second, WAL fsyncs per second, and Raft
 * log entries per keep-alive answered (applied index delta / keep-alives). Then revoke them all, so the next
 * phase (the other system's) runs without this one's keep-alive traffic.
 * Grants and revokes are bounded by count and time.
 */
import { FIGURE } from "./figures.js";
import { runLoad } from "./load.js";
import { leaderIndex, readLeader } from "./members.js";
import type { KvBenchOptions } from "./options.js";
import type { RoundFigures } from "./stats.js";
import type { KeptLease, KvTarget } from "./target.js";

/** Both clients keep alive every TTL/3: 10,000 leases make about 1,000 keep-alives/s. */
export const LEASE_TTL_SECONDS = 30;
/**
 * etcd3 sends a lease's first keep-alive at grant, the SDK one interval
 * later: the window opens one interval after the last grant, when both
 * clients are in their steady rhythm.
 */
const SETTLE_MS = (LEASE_TTL_SECONDS * 1000) / 3;
const IN_FLIGHT = 64;
const GRANT_MIN_BOUND_MS = 60_000;

export async function leasePhase(target: KvTarget, options: KvBenchOptions): Promise<RoundFigures> {
  const kept: KeptLease[] = [];
  // Granting and revoking are writes (~1,000/s here): they get their own bound.
  const boundMs = Math.max(options.phaseTimeMs * 6, GRANT_MIN_BOUND_MS);
  try {
    const granted = await runLoad({
      serverPids: [],
      inFlight: IN_FLIGHT,
      maxOps: options.leases,
      maxMs: boundMs,
      op: async () => {
        kept.push(await target.keptLease(LEASE_TTL_SECONDS));
      },
    });
    if (granted.ops < options.leases) {
      console.error(
        `  ${target.name} leases: granted ${granted.ops} of ${options.leases}` +
          (granted.firstError === undefined ? "" : ` (first error: ${granted.firstError})`),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const leader = await leaderIndex(target);
    const before = await readLeader(target, leader);
    await new Promise((resolve) => setTimeout(resolve, options.leaseMs));
    const after = await readLeader(target, leader);
    if (after.term !== before.term) {
      throw new Error(
        `leader changed during the lease window (term ${before.term} → ${after.term})`,
      );
    }
    const seconds = (after.atMs - before.atMs) / 1000;
    const keepAlives = after.keepAlivesAnswered - before.keepAlivesAnswered;
    const figures = {
      [FIGURE.leaseCount]: kept.length,
      [FIGURE.leaseKeepAlivesPerS]: keepAlives / seconds,
      [FIGURE.leaseLeaderCpu]: (after.cpuSeconds - before.cpuSeconds) / seconds,
      [FIGURE.leaseLeaderFsyncs]: (after.fsyncs - before.fsyncs) / seconds,
      [FIGURE.leaseEntriesPerKeepAlive]:
        keepAlives === 0 ? Number.NaN : (after.appliedIndex - before.appliedIndex) / keepAlives,
    };
    console.error(
      `  ${target.name} leases: ${kept.length} kept alive ${seconds.toFixed(0)} s, ` +
        `${keepAlives} keep-alives, leader CPU ${figures[FIGURE.leaseLeaderCpu].toFixed(3)} s/s, ` +
        `${figures[FIGURE.leaseLeaderFsyncs].toFixed(1)} fsyncs/s, ` +
        `${figures[FIGURE.leaseEntriesPerKeepAlive].toFixed(3)} entries/keep-alive`,
    );
    return figures;
  } finally {
    const revoked = await runLoad({
      serverPids: [],
      inFlight: IN_FLIGHT,
      maxOps: kept.length,
      maxMs: boundMs,
      op: (i) => kept[i]!.revoke(),
    });
    if (revoked.ops < kept.length) {
      console.error(`  ${target.name} leases: revoked ${revoked.ops} of ${kept.length}`);
    }
    // Whatever was not revoked stops being kept alive and expires on its own.
    for (const lease of kept) lease.close();
  }
}
