/**
 * `npm run nemesis -- --runs N --seconds S [--members 3|5] [--seed X]`:
 * N runs of the nemesis suite on `conclave serve` (run i uses seed X + i).
 * Progress goes to stderr; the last line on stdout is one JSON summary. The
 * exit code is 1 on any violation, lost acknowledged write, inconclusive
 * check or unfinished run, 2 on bad flags.
 */
import { parseArgs } from "node:util";
import { runOnce, runsInProgress } from "./run.js";
import { failed, summarize } from "./summary.js";

const USAGE = "usage: npm run nemesis -- --runs N --seconds S [--members 3|5] [--seed X]";

function intFlag(text: string | undefined, name: string, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = /^[0-9]{1,9}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer >= ${min}, got "${text}"\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      options: {
        runs: { type: "string" },
        seconds: { type: "string" },
        members: { type: "string" },
        seed: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values["help"] === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const runs = intFlag(values["runs"] as string | undefined, "runs", 1, 1);
  const seconds = intFlag(values["seconds"] as string | undefined, "seconds", 20, 1);
  const members = intFlag(values["members"] as string | undefined, "members", 3, 3);
  if (members !== 3 && members !== 5) {
    process.stderr.write(`--members must be 3 or 5, got ${members}\n${USAGE}\n`);
    return 2;
  }
  const seed = intFlag(
    values["seed"] as string | undefined,
    "seed",
    Math.floor(Math.random() * 1e9),
    0,
  );
  const startedAt = performance.now();
  const log = (line: string) => {
    const at = ((performance.now() - startedAt) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`[${at} s] ${line}\n`);
  };
  const reports = [];
  let failedRuns = 0;
  for (let i = 0; i < runs; i++) {
    const runSeed = seed + i;
    log(`run ${i + 1}/${runs}: seed ${runSeed}, ${members} members, ${seconds} s`);
    try {
      const report = await runOnce({ seed: runSeed, members, seconds, log });
      reports.push(report);
      log(
        `run ${i + 1}/${runs}: ${report.ops} ops (${report.unknownOps} unknown), ${report.faults.length} faults, lincheck ${report.verdict.lincheck}, ${report.verdict.lostAcknowledgedWrites.length} lost of ${report.verdict.checkedWrites} checked writes`,
      );
    } catch (err) {
      failedRuns++;
      log(`run ${i + 1}/${runs} (seed ${runSeed}) did not finish: ${(err as Error).stack ?? err}`);
    }
  }
  const summary = summarize({ runs, members, seconds, seed }, reports, failedRuns);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return failed(summary) ? 1 : 0;
}

// Interrupted: end the member processes by PID, remove temp dirs, unmount, then go.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    process.stderr.write(`${signal}: stopping the run in progress\n`);
    void Promise.all([...runsInProgress].map((cleanUp) => cleanUp())).finally(() =>
      process.exit(130),
    );
  });
}

process.exitCode = await main();
