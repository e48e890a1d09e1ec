/** The table (one column per round, then the median) and the one JSON line. */
import type { FloodPhaseResult } from "./flood-phase.js";
import { median } from "./samplers.js";
import type { WatchPhaseResult } from "./watch-phase.js";

export interface RoundResult {
  readonly watch: WatchPhaseResult;
  readonly flood: FloodPhaseResult;
}

const MiB = 1024 * 1024;

interface Row {
  readonly label: string;
  readonly digits: number;
  readonly value: (r: RoundResult) => number;
}

const ROWS: readonly Row[] = [
  { label: "watch: watchers opened", digits: 0, value: (r) => r.watch.watchersOpened },
  { label: "watch: 1 MiB puts ok", digits: 0, value: (r) => r.watch.putsOk },
  { label: "watch: puts failed", digits: 0, value: (r) => r.watch.putsFailed },
  { label: "watch: member RSS before MiB", digits: 1, value: (r) => r.watch.rssBeforeBytes / MiB },
  { label: "watch: member RSS peak MiB", digits: 1, value: (r) => r.watch.rssPeakBytes / MiB },
  { label: "watch: member RSS after MiB", digits: 1, value: (r) => r.watch.rssAfterBytes / MiB },
  {
    label: "watch: peak growth MiB",
    digits: 1,
    value: (r) => (r.watch.rssPeakBytes - r.watch.rssBeforeBytes) / MiB,
  },
  { label: "watch: budget + margin MiB", digits: 0, value: (r) => r.watch.rssLimitBytes / MiB },
  { label: "watch: watchers left uncut", digits: 0, value: (r) => r.watch.watchersLeft },
  {
    label: "watch: sampled told WATCH_TOO_SLOW",
    digits: 0,
    value: (r) => r.watch.sampledTooSlow,
  },
  { label: "watch: /status p50 ms", digits: 1, value: (r) => r.watch.status.p50Ms },
  { label: "watch: /status p99 ms", digits: 1, value: (r) => r.watch.status.p99Ms },
  { label: "watch: /status max ms", digits: 1, value: (r) => r.watch.status.maxMs },
  { label: "watch: /status failures", digits: 0, value: (r) => r.watch.status.failures },
  { label: "flood: connections held", digits: 0, value: (r) => r.flood.opened },
  { label: "flood: connections refused", digits: 0, value: (r) => r.flood.refused },
  { label: "flood: puts ok", digits: 0, value: (r) => r.flood.putsOk },
  { label: "flood: puts failed", digits: 0, value: (r) => r.flood.putsFailed },
  { label: "flood: put p50 ms", digits: 2, value: (r) => r.flood.putP50Ms },
  { label: "flood: put p99 ms", digits: 2, value: (r) => r.flood.putP99Ms },
  { label: "flood: leaders seen", digits: 0, value: (r) => r.flood.leadersSeen.length },
];

export interface Verdicts {
  readonly rssWithinBudget: boolean;
  readonly everyWatcherCut: boolean;
  readonly leaderStayed: boolean;
  readonly floodWritesSucceeded: boolean;
}

export function verdicts(rounds: readonly RoundResult[]): Verdicts {
  return {
    rssWithinBudget: rounds.every((r) => r.watch.withinLimit),
    everyWatcherCut: rounds.every(
      (r) => r.watch.watchersLeft === 0 && r.watch.sampledTooSlow === r.watch.sampled,
    ),
    leaderStayed: rounds.every((r) => r.flood.leaderStayed),
    floodWritesSucceeded: rounds.every((r) => r.flood.putsOk > 0 && r.flood.putsFailed === 0),
  };
}

export function printTable(rounds: readonly RoundResult[]): void {
  const header = ["", ...rounds.map((_, i) => `round ${i + 1}`), "median"];
  const lines = ROWS.map((row) => [
    row.label,
    ...rounds.map((r) => row.value(r).toFixed(row.digits)),
    median(rounds.map(row.value)).toFixed(row.digits),
  ]);
  const widths = header.map((_, c) => Math.max(...[header, ...lines].map((l) => l[c]!.length)));
  for (const l of [header, ...lines]) {
    console.log(
      l
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join("  "),
    );
  }
  const v = verdicts(rounds);
  console.log("");
  console.log(`RSS peak growth within watch budget + margin: ${v.rssWithinBudget ? "yes" : "NO"}`);
  console.log(
    `every stalled watcher cut, sampled ones told WATCH_TOO_SLOW: ${v.everyWatcherCut ? "yes" : "NO"}`,
  );
  console.log(`leader stayed in place through every flood: ${v.leaderStayed ? "yes" : "NO"}`);
  console.log(`writes succeeded through every flood: ${v.floodWritesSucceeded ? "yes" : "NO"}`);
}

export function medians(rounds: readonly RoundResult[]): Record<string, number> {
  return Object.fromEntries(ROWS.map((row) => [row.label, median(rounds.map(row.value))]));
}
