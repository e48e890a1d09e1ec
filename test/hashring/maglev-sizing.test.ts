/** Maglev's automatic table size: how much a change moves at 1,000 nodes. */
import { describe, expect, it } from "vitest";
import {
  AUTO_MAX_TABLE_SIZE,
  autoTableSlots,
  CONFIG_FORMAT,
  MaglevHash,
  restore,
} from "../../src/hashring/index.js";
import { isPrime, nextPrimeAbove } from "../../src/hashring/primes.js";
import { nodeNames, seededKeys } from "./helpers.js";

const KEYS = seededKeys(100_000, 0x6d61);

function owners(maglev: MaglevHash): string[] {
  return KEYS.map((key) => maglev.get(key));
}

function changed(before: readonly string[], after: readonly string[]): number {
  return before.filter((owner, i) => owner !== after[i]).length / before.length;
}

describe("maglev default table size", () => {
  it("adding one node to 1,000 moves at most 2x the ideal fraction of keys", () => {
    const maglev = new MaglevHash();
    for (const id of nodeNames(1000)) maglev.addNode(id);
    const before = owners(maglev);
    maglev.addNode("node-1000");
    const after = owners(maglev);
    expect(changed(before, after)).toBeLessThanOrEqual(2 * (1 / 1001));
  });

  it("grows with the square of the node count, up to a cap, and stays prime", () => {
    expect(autoTableSlots(10)).toBe(1000);
    expect(autoTableSlots(25)).toBe(2500);
    expect(autoTableSlots(100)).toBe(40_000);
    expect(autoTableSlots(1000)).toBe(4_000_000);
    expect(autoTableSlots(5000)).toBe(AUTO_MAX_TABLE_SIZE);
    const maglev = new MaglevHash();
    for (const id of nodeNames(100)) maglev.addNode(id);
    expect(maglev.tableSize).toBe(nextPrimeAbove(40_000));
    expect(isPrime(maglev.tableSize!)).toBe(true);
    // Kept while nodes change, until it is below half of what the count would get.
    for (const id of nodeNames(41, "more")) maglev.addNode(id);
    expect(maglev.tableSize).toBe(nextPrimeAbove(40_000));
    maglev.addNode("one-more");
    expect(maglev.tableSize).toBe(nextPrimeAbove(4 * 142 ** 2));
  });

  it("a restored automatic table keeps its recorded size until its nodes change", () => {
    // Written by a version that sized tables at 100 x nodes.
    const nodes = nodeNames(200).map((id) => ({ id, weight: 1 }));
    const config = {
      format: CONFIG_FORMAT,
      algorithm: "maglev",
      tableSize: 20_011,
      autoSize: true,
      nodes,
    };
    const restored = restore(config) as MaglevHash;
    const again = restore(JSON.stringify(config)) as MaglevHash;
    expect(restored.tableSize).toBe(20_011);
    for (const key of KEYS.slice(0, 2000)) expect(restored.get(key)).toBe(again.get(key));
    restored.removeNode("node-0");
    expect(restored.tableSize).toBe(nextPrimeAbove(4 * 199 ** 2));
  });
});
