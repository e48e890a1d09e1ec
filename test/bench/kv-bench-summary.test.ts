import { describe, expect, it } from "vitest";
import { FIGURE } from "../../bench/kv/figures.js";
import { metricSum } from "../../bench/kv/member-http.js";
import { summarizeAll } from "../../bench/kv/report.js";
import { median, type RoundSample, ratioOf, summarize, systemOrder } from "../../bench/kv/stats.js";
import { checkTargets, TARGETS } from "../../bench/kv/targets.js";

const byName = <T extends { name: string }>(items: readonly T[], name: string): T => {
  const found = items.find((i) => i.name === name);
  if (found === undefined) throw new Error(`no ${name}`);
  return found;
};

describe("kv bench medians and ratios", () => {
  it("takes the median of the finite values", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN, 5])).toBe(5);
    expect(median([])).toBeNaN();
  });

  it("has no ratio when a side is missing or etcd's figure is 0", () => {
    expect(ratioOf(2, 3)).toBe(1.5);
    expect(ratioOf(undefined, 3)).toBeNaN();
    expect(ratioOf(0, 3)).toBeNaN();
    expect(ratioOf(2, Number.NaN)).toBeNaN();
  });

  it("reports the median of per-round ratios, not the ratio of medians, with its spread", () => {
    // Round 2 ran while the machine was busy: both systems were slow.
    const rounds: RoundSample[] = [
      { etcd: { x: 100 }, conclave: { x: 150 } },
      { etcd: { x: 40 }, conclave: { x: 80 } },
      { etcd: { x: 110 }, conclave: { x: 132 } },
    ];
    const s = summarize("x", rounds);
    expect(s.etcd).toBe(100);
    expect(s.conclave).toBe(132);
    expect(s.ratio).toBe(1.5);
    expect([s.ratioMin, s.ratioMax]).toEqual([1.2, 2]);
    expect(s.ratioRounds).toBe(3);
  });

  it("skips rounds where a figure is missing on one side", () => {
    const s = summarize("x", [{ etcd: { x: 1 }, conclave: { x: 2 } }, { etcd: { x: 1 } }]);
    expect(s.ratio).toBe(2);
    expect(s.ratioRounds).toBe(1);
    expect(summarize("x", [{ etcd: { x: 1 } }]).ratio).toBeNaN();
  });

  it("summarises round figures over the rounds and once-only figures over their one sample", () => {
    const summaries = summarizeAll(
      [
        { etcd: { a: 1 }, conclave: { a: 2 } },
        { etcd: { a: 1 }, conclave: { a: 4 } },
      ],
      { etcd: { b: 10 }, conclave: { b: 5 } },
    );
    expect(summaries.map((s) => [s.name, s.ratio, s.ratioRounds])).toEqual([
      ["a", 3, 2],
      ["b", 0.5, 1],
    ]);
  });

  it("alternates which system goes first", () => {
    const systems = ["etcd", "conclave"] as const;
    expect(systemOrder(systems, 0)).toEqual(["etcd", "conclave"]);
    expect(systemOrder(systems, 1)).toEqual(["conclave", "etcd"]);
    expect(systemOrder(systems, 2)).toEqual(["etcd", "conclave"]);
    expect(systemOrder(["conclave"], 1)).toEqual(["conclave"]);
  });
});

/** One round where Conclave is `scale` times etcd on every figure. */
function scaled(scale: number, overrides: Record<string, number> = {}): RoundSample {
  const etcd: Record<string, number> = {};
  for (const t of TARGETS) etcd[t.figure] = 10;
  etcd[FIGURE.rssKeys] = 100_000;
  etcd[FIGURE.bigKeys] = 1_000_000;
  etcd[FIGURE.leaseCount] = 10_000;
  const conclave = Object.fromEntries(Object.entries(etcd).map(([k, v]) => [k, v * scale]));
  conclave[FIGURE.rssKeys] = 100_000;
  conclave[FIGURE.bigKeys] = 1_000_000;
  conclave[FIGURE.leaseCount] = 10_000;
  conclave[FIGURE.leaseEntriesPerKeepAlive] = 0;
  conclave[FIGURE.snapshotLoopDelayMs] = 20;
  conclave[FIGURE.snapshotLeaderChanges] = 0;
  return { etcd, conclave: { ...conclave, ...overrides } };
}

describe("kv bench targets", () => {
  it("covers the issue's target list", () => {
    const names = checkTargets([]).map((c) => c.name);
    expect(names).toEqual([
      "put ops/s x64",
      "put ops/s x256",
      "server CPU per put x1",
      "server CPU per put x16",
      "server CPU per put x64",
      "server CPU per put x256",
      "put p99 x1",
      "put p99 x256",
      "linearizable get ops/s x64",
      "RSS per member, 100k keys",
      "RSS per member, 1M keys",
      "restart to serving, 1M keys",
      "leases: log entries per keep-alive",
      "leases: leader CPU",
      "snapshot: worst event-loop delay",
      "snapshot: leader changes",
    ]);
  });

  it("judges ratio targets on the median ratio and absolute ones on Conclave's value", () => {
    const round = scaled(2, {
      [FIGURE.leaseEntriesPerKeepAlive]: 1,
      [FIGURE.snapshotLoopDelayMs]: 3_200,
      [FIGURE.snapshotLeaderChanges]: 3,
    });
    const checks = checkTargets(summarizeAll([round], {}));
    expect(byName(checks, "put ops/s x64")).toMatchObject({ ratio: 2, met: true, goal: ">= 1.5" });
    expect(byName(checks, "put ops/s x64").spread).toEqual([2, 2]);
    expect(byName(checks, "server CPU per put x16")).toMatchObject({ ratio: 2, met: false });
    expect(byName(checks, "linearizable get ops/s x64")).toMatchObject({ met: true });
    expect(byName(checks, "leases: log entries per keep-alive")).toMatchObject({
      ratio: null,
      value: 1,
      goal: "= 0",
      met: false,
    });
    expect(byName(checks, "snapshot: worst event-loop delay")).toMatchObject({
      value: 3_200,
      goal: "<= 50 ms",
      met: false,
    });
    expect(byName(checks, "snapshot: leader changes")).toMatchObject({ value: 3, met: false });
    const fine = checkTargets(summarizeAll([scaled(0.5)], {}));
    expect(byName(fine, "leases: log entries per keep-alive").met).toBe(true);
    expect(byName(fine, "snapshot: worst event-loop delay").met).toBe(true);
    expect(byName(fine, "RSS per member, 1M keys")).toMatchObject({ ratio: 0.5, met: true });
    expect(byName(fine, "leases: leader CPU")).toMatchObject({ ratio: 0.5, met: true });
  });

  it("calls a passing ratio inconclusive when Conclave held fewer keys or leases", () => {
    const fewer = scaled(0.5, { [FIGURE.bigKeys]: 600_000 });
    const checks = checkTargets(summarizeAll([fewer], {}));
    expect(byName(checks, "RSS per member, 1M keys").met).toBeNull();
    expect(byName(checks, "restart to serving, 1M keys").met).toBeNull();
    expect(byName(checks, "RSS per member, 100k keys").met).toBe(true);
    const fewerLeases = scaled(0.5, { [FIGURE.leaseCount]: 5 });
    expect(
      byName(checkTargets(summarizeAll([fewerLeases], {})), "leases: leader CPU").met,
    ).toBeNull();
    // A miss with fewer keys is still a miss.
    const worse = checkTargets(summarizeAll([scaled(3, { [FIGURE.bigKeys]: 600_000 })], {}));
    expect(byName(worse, "RSS per member, 1M keys").met).toBe(false);
  });

  it("leaves every target unmeasured with one system only", () => {
    const checks = checkTargets(summarizeAll([{ etcd: scaled(1).etcd! }], {}));
    for (const c of checks) expect(c.met).toBeNull();
  });
});

describe("kv bench metric scraping", () => {
  it("sums every series of a name and is NaN when it is absent", () => {
    const text = [
      "# HELP etcd_disk_wal_fsync_duration_seconds fsync",
      "# TYPE etcd_disk_wal_fsync_duration_seconds histogram",
      'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 3',
      "etcd_disk_wal_fsync_duration_seconds_count 42",
      'conclave_x{kind="a"} 1.5',
      'conclave_x{kind="b"} 2',
    ].join("\n");
    expect(metricSum(text, "etcd_disk_wal_fsync_duration_seconds_count")).toBe(42);
    expect(metricSum(text, "conclave_x")).toBe(3.5);
    expect(metricSum(text, "conclave_event_loop_delay_max_seconds")).toBeNaN();
  });
});
