import { describe, expect, it } from "vitest";
import type { FloodPhaseResult } from "../../bench/adversary/flood-phase.js";
import { OptionsError, parseAdversaryOptions } from "../../bench/adversary/options.js";
import { medians, type RoundResult, verdicts } from "../../bench/adversary/report.js";
import { median } from "../../bench/adversary/samplers.js";
import type { WatchPhaseResult } from "../../bench/adversary/watch-phase.js";

const MiB = 1024 * 1024;

describe("adversary bench options", () => {
  it("uses the full defaults, the quick ones, then flags", () => {
    expect(parseAdversaryOptions([])).toMatchObject({
      rounds: 3,
      watchers: 1000,
      puts: 8,
      watchBudgetBytes: 64 * MiB,
      floodConnections: 1500,
      floodMs: 10_000,
    });
    expect(parseAdversaryOptions(["--quick"])).toMatchObject({ rounds: 1, watchers: 200 });
    expect(parseAdversaryOptions(["--quick", "--watchers", "50"]).watchers).toBe(50);
  });

  it("refuses unknown flags and bad numbers with an OptionsError", () => {
    expect(() => parseAdversaryOptions(["--nope"])).toThrow(OptionsError);
    expect(() => parseAdversaryOptions(["--rounds", "0"])).toThrow(/--rounds/);
    expect(() => parseAdversaryOptions(["--flood-ms", "1.5"])).toThrow(/integer/);
  });
});

const watch = (over: Partial<WatchPhaseResult> = {}): WatchPhaseResult => ({
  watchersOpened: 1000,
  putsOk: 8,
  putsFailed: 0,
  rssBeforeBytes: 100 * MiB,
  rssPeakBytes: 150 * MiB,
  rssAfterBytes: 140 * MiB,
  rssLimitBytes: 320 * MiB,
  withinLimit: true,
  watchersLeft: 0,
  sampledTooSlow: 20,
  sampled: 20,
  status: { count: 100, failures: 0, p50Ms: 5, p99Ms: 50, maxMs: 60 },
  ...over,
});
const flood = (over: Partial<FloodPhaseResult> = {}): FloodPhaseResult => ({
  attempted: 1500,
  opened: 1500,
  refused: 0,
  putsOk: 200,
  putsFailed: 0,
  putP50Ms: 5,
  putP99Ms: 50,
  leaderBefore: 1,
  leaderAfter: 1,
  leadersSeen: [1],
  leaderStayed: true,
  ...over,
});

describe("adversary bench report", () => {
  it("passes every verdict only when every round passes it", () => {
    const good: RoundResult = { watch: watch(), flood: flood() };
    expect(verdicts([good, good])).toEqual({
      rssWithinBudget: true,
      everyWatcherCut: true,
      leaderStayed: true,
      floodWritesSucceeded: true,
    });
    const bad: RoundResult = {
      watch: watch({ withinLimit: false, sampledTooSlow: 19 }),
      flood: flood({ leaderStayed: false, putsFailed: 1 }),
    };
    expect(verdicts([good, bad])).toEqual({
      rssWithinBudget: false,
      everyWatcherCut: false,
      leaderStayed: false,
      floodWritesSucceeded: false,
    });
  });

  it("reports the median of each figure over the rounds", () => {
    const rounds = [30, 10, 20].map((p50) => ({
      watch: watch({ status: { count: 1, failures: 0, p50Ms: p50, p99Ms: p50, maxMs: p50 } }),
      flood: flood(),
    }));
    expect(medians(rounds)["watch: /status p50 ms"]).toBe(20);
    expect(median([4, 1, 3, 2])).toBe(3);
  });
});
