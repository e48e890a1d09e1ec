/**
 * `npm run sim:shards -- --seeds N [--from S] [--shards G] [--nodes F]` runs
 * seeds of the sharded tier's simulation one after another;
 * `npm run sim:shards -- --seed N --trace` replays one with its event trace;
 * `--no-quiesce` keeps every group ticking (idle groups go quiet by default).
 * Ends with one JSON summary line; exits 1 if any seed failed.
 */
import { parseArgs } from "node:util";
import { runShardSimulation } from "./run.js";

const { values } = parseArgs({
  options: {
    seeds: { type: "string" },
    seed: { type: "string" },
    from: { type: "string", default: "1" },
    shards: { type: "string" },
    nodes: { type: "string" },
    trace: { type: "boolean", default: false },
    quiesce: { type: "boolean", default: true },
  },
  allowNegative: true,
  strict: true,
});

function int(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(
      `--${name} must be an integer >= ${min}, got "${v}"\nusage: npm run sim:shards -- --seeds N [--from S] [--shards G] [--nodes F] | --seed N [--trace]\n`,
    );
    process.exit(2);
  }
  return n;
}

const shardCount = int("shards", values.shards, 1);
const founders = int("nodes", values.nodes, 3);
const shape = {
  ...(shardCount !== undefined && { shardCount }),
  ...(founders !== undefined && { founders }),
  quiesce: values.quiesce,
};
const one = int("seed", values.seed, 0);
const seeds =
  one !== undefined
    ? [one]
    : Array.from(
        { length: int("seeds", values.seeds ?? "20", 1) ?? 20 },
        (_, i) => i + (int("from", values.from, 0) ?? 1),
      );

let failed = 0;
const started = Date.now();
for (const seed of seeds) {
  const result = await runShardSimulation({
    seed,
    ...shape,
    ...(values.trace && { trace: (line: string) => process.stdout.write(`${line}\n`) }),
  });
  if (!result.ok) {
    failed++;
    process.stdout.write(
      `${JSON.stringify(result)}\nreplay: npm run sim:shards -- --seed ${seed} --trace\n`,
    );
  }
}
process.stdout.write(
  `${JSON.stringify({ kind: "shard-sim", seeds: seeds.length, failed, ms: Date.now() - started, ...shape })}\n`,
);
process.exit(failed === 0 ? 0 : 1);
