import { describe, expect, it } from "vitest";
import { checkLeases, type LeaseCheckContext } from "../../src/sim/lease-checks.js";
import { PROFILES } from "../../src/sim/profiles.js";
import { runSimulation } from "../../src/sim/run.js";
import type { LeaseRecord } from "../../src/sim/workload.js";

/**
 * Lease 1: ttl 1000 ms, granted at t=0 and kept alive by a call at t=500.
 * With 10% skew it is protected until 500 + 1000 / 1.1 ≈ t=1409.1 and due
 * gone by 500 + 1000 * 1.1 + 200 = t=1800.
 */
const lease = (revokeRequested = false): LeaseRecord => ({
  id: 1,
  ttlMs: 1000,
  acknowledged: [0, 500],
  revokeRequested,
});

const ctx = (now: number, live: number[] = []): LeaseCheckContext => ({
  now,
  clockSkew: 0.1,
  leaderSince: 0,
  takeoverGraceMs: 100,
  expiryBoundMs: 200,
  liveLeases: new Set(live),
});

const revoked = (at: number) => new Map([[1, at]]);

describe("checkLeases: safety", () => {
  it("reports a lease revoked before its last keep-alive's ttl ran out", () => {
    expect(checkLeases([lease()], revoked(1300), ctx(2000))).toBe(
      "lease 1 (ttl 1000 ms) was revoked at t=1300.0, but a keep-alive called at t=500.0 was acknowledged: it was safe until t=1409.1",
    );
  });

  it("measures protection from the latest acknowledged keep-alive, not the grant", () => {
    expect(checkLeases([lease()], revoked(1050), ctx(2000))).toContain("revoked at t=1050.0");
  });

  it("allows for a leader clock running fast by the skew", () => {
    // 950 ms after the keep-alive: 1045 ms on a clock 10% fast, so the ttl ran out.
    expect(checkLeases([lease()], revoked(1450), ctx(2000))).toBeUndefined();
    expect(checkLeases([lease()], revoked(1450), { ...ctx(2000), clockSkew: 0 })).toContain(
      "safe until t=1500.0",
    );
  });

  it("accepts a revoke after the protected time", () => {
    expect(checkLeases([lease()], revoked(1410), ctx(2000))).toBeUndefined();
  });

  it("exempts leases the client asked to revoke", () => {
    expect(checkLeases([lease(true)], revoked(600), ctx(2000))).toBeUndefined();
    expect(checkLeases([lease(true)], new Map(), ctx(5000, [1]))).toBeUndefined();
  });
});

describe("checkLeases: liveness", () => {
  it("reports a lease still live past its due time", () => {
    expect(checkLeases([lease()], new Map(), ctx(1900, [1]))).toBe(
      "lease 1 (ttl 1000 ms, last kept alive at t=500.0) still exists at t=1900.0, past t=1800.0",
    );
  });

  it("accepts a lease still live inside its due time", () => {
    expect(checkLeases([lease()], new Map(), ctx(1700, [1]))).toBeUndefined();
  });

  it("accepts a lease gone by its due time", () => {
    expect(checkLeases([lease()], revoked(1500), ctx(1900))).toBeUndefined();
  });

  it("counts from a later takeover: a new leader grants a TTL and its grace", () => {
    // Leader since t=1000: due by 1000 + (1000 + 100) * 1.1 + 200 = t=2410.
    const late = { ...ctx(2400, [1]), leaderSince: 1000 };
    expect(checkLeases([lease()], new Map(), late)).toBeUndefined();
    expect(checkLeases([lease()], new Map(), { ...late, now: 2420 })).toContain("past t=2410.0");
  });

  it("checks every lease, not only the first", () => {
    const other: LeaseRecord = { id: 2, ttlMs: 100, acknowledged: [0], revokeRequested: false };
    expect(checkLeases([lease(), other], new Map(), ctx(1700, [1, 2]))).toContain("lease 2");
  });
});

describe("lease checkpoints in the simulator", () => {
  it("membership seed 93 (a renewal acknowledged while a stale checkpoint was the last in the log) passes", async () => {
    // With LeaseCheckpoints.afterRenewal never clearing, this seed's new
    // leader counted down an older checkpoint and revoked a renewed lease.
    const profile = PROFILES.find((p) => p.name === "membership")!;
    const res = await runSimulation({ seed: 93, profile });
    expect(res.failure).toBeUndefined();
    expect(res.keepAlives).toBeGreaterThan(0);
    expect(res.leaderChanges).toBeGreaterThan(1);
  });
});
