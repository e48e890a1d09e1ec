/**
 * The mapping must not depend on the process: no per-process hash seed, no
 * iteration-order accident. A child node process rebuilds every placement
 * from the same operations and must agree key for key.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  type ChildInput,
  type Operation,
  runBounded,
  runPlacements,
} from "./fixtures/mapping-child.js";
import { seededKeys } from "./helpers.js";

const child = fileURLToPath(new URL("./fixtures/mapping-child.ts", import.meta.url));
const root = fileURLToPath(new URL("../../", import.meta.url));

const nodeOps: Operation[] = [
  { add: "10.0.0.1:11211" },
  { add: "10.0.0.2:11211", weight: 2 },
  { add: "cache-β" },
  { add: "10.0.0.4:11211", weight: 3 },
  { add: "10.0.0.5:11211" },
  { remove: "cache-β" },
  { add: "10.0.0.6:11211" },
];
// Jump removes only its last node; give it its own sequence.
const jumpOps: Operation[] = [...nodeOps.slice(0, 5), { remove: "10.0.0.5:11211" }, { add: "n6" }];

const keys: ChildInput["keys"] = [
  ...seededKeys(1500, 99),
  "",
  "ключ",
  "键值",
  "emoji 😀",
  "lone \ud800 surrogate",
  { hex: "" },
  { hex: "00ff10" },
  { hex: "c328" },
];

const boundedOps: Operation[] = [
  { add: "a" },
  { add: "b" },
  { add: "c", weight: 2 },
  ...seededKeys(600, 5).map((k) => ({ place: k })),
  { add: "d" },
  ...seededKeys(200, 5).map((k) => ({ release: k })),
  { remove: "b" },
  ...seededKeys(100, 6).map((k) => ({ place: k })),
];

const input: ChildInput = {
  placements: [
    { options: { algorithm: "ring" }, ops: nodeOps },
    { options: { algorithm: "ring", pointsPerNode: 37 }, ops: nodeOps },
    { options: { algorithm: "ketama" }, ops: nodeOps },
    { options: { algorithm: "jump" }, ops: jumpOps },
    { options: { algorithm: "rendezvous" }, ops: nodeOps },
    { options: { algorithm: "maglev" }, ops: nodeOps },
    { options: { algorithm: "maglev", tableSize: 1021 }, ops: nodeOps },
  ],
  bounded: { eps: 0.2, ops: boundedOps },
  keys: [...keys, ...seededKeys(700, 5), ...seededKeys(100, 6)],
};

describe("mapping across processes", () => {
  it("is identical in a freshly started node process", () => {
    const output = execFileSync(process.execPath, ["--import", "tsx", child], {
      cwd: root,
      input: JSON.stringify(input),
      encoding: "utf8",
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const theirs = JSON.parse(output) as {
      pid: number;
      placements: ReturnType<typeof runPlacements>;
      bounded: ReturnType<typeof runBounded>;
    };
    expect(theirs.pid).not.toBe(process.pid);
    const ours = runPlacements(input);
    expect(theirs.placements.length).toBe(ours.length);
    ours.forEach((mine, i) => {
      expect(theirs.placements[i]!.get).toEqual(mine.get);
      expect(theirs.placements[i]!.getN).toEqual(mine.getN);
    });
    const bounded = runBounded(input);
    expect(theirs.bounded).toEqual(bounded);
    // The bounded run really placed keys (not an all-null comparison).
    expect(bounded.owners.filter((o) => o !== null).length).toBe(500);
  });
});
