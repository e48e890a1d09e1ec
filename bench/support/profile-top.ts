/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `npm run bench --
 * kv --profile --keep`): the functions with the most self time and the most
 * inclusive time, as shares of all samples.
 *
 *   npx tsx bench/support/profile-top.ts <file.cpuprofile> [rows]
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

const [file, rowsText = "30"] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: npx tsx bench/support/profile-top.ts <file.cpuprofile> [rows]");
  process.exit(2);
}
const rows = Number(rowsText);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const label = (n: ProfileNode) =>
  `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/^.*?\/(src|node_modules)\//, "$1/")}`;

const samplesPerNode = new Map<number, number>();
for (const s of profile.samples) samplesPerNode.set(s, (samplesPerNode.get(s) ?? 0) + 1);
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, count] of samplesPerNode) {
  const node = byId.get(id)!;
  self.set(label(node), (self.get(label(node)) ?? 0) + count);
  // A recursive function counts once per sample.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
    const name = label(byId.get(cur)!);
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + count);
  }
}
const total = profile.samples.length;
const print = (title: string, table: Map<string, number>) => {
  console.log(title);
  for (const [name, count] of [...table].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    console.log(`${((100 * count) / total).toFixed(1).padStart(6)}%  ${name}`);
  }
};
console.log(`${total} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s`);
print("\nself time", self);
print("\ninclusive time", inclusive);
