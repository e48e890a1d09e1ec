/**
 * Ketama against the npm `hashring` package as an oracle, and pinned to the
 * C arithmetic (libmemcached / twemproxy) where npm rounds differently.
 */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { KetamaRing, ketamaPointCount, ketamaPosition } from "../../src/hashring/index.js";
import { seededKeys } from "./helpers.js";

type ServerSpec = number | { readonly vnodes: number };
interface NpmHashRing {
  get(key: string): string;
  ring: { value: number }[];
}
const NpmHashRing = createRequire(import.meta.url)("hashring") as new (
  servers: Record<string, ServerSpec>,
  algorithm?: string,
  options?: Record<string, unknown>,
) => NpmHashRing;

const KEYS = seededKeys(100_000, 2024, "ketama");

function ours(servers: Record<string, number>): KetamaRing {
  const ring = new KetamaRing();
  for (const [id, weight] of Object.entries(servers)) ring.addNode(id, weight);
  return ring;
}

/** npm's count: 4 * floor(w / W * 40 * n), all in double precision. */
function npmPointCount(weight: number, total: number, servers: number): number {
  return Math.floor((weight / total) * 40 * servers) * 4;
}

/**
 * npm can be told a server's group count outright ({vnodes}); it only obeys
 * when that differs from its global "vnode count", hence 1000 there.
 */
function npmWithGroups(groups: Record<string, number>): NpmHashRing {
  const servers = Object.fromEntries(Object.entries(groups).map(([id, g]) => [id, { vnodes: g }]));
  return new NpmHashRing(servers, "md5", { "vnode count": 1000 });
}

function equalServers(count: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`10.0.0.${i + 1}:11211`, 1]));
}

function disagreements(a: { get(k: string): string }, b: { get(k: string): string }): string[] {
  return KEYS.filter((k) => a.get(k) !== b.get(k));
}

/** The four ketama points of group `g` of a server: MD5("id-g") as little-endian words. */
function groupPoints(id: string, group: number): number[] {
  const digest = createHash("md5").update(`${id}-${group}`).digest();
  return [0, 4, 8, 12].map((at) => digest.readUInt32LE(at));
}

/** The point a key lands on in a sorted circle: the first at or after its position. */
function successorPoint(positions: ArrayLike<number>, key: string): number {
  const h = ketamaPosition(key);
  let lo = 0;
  let hi = positions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (positions[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  return positions[lo === positions.length ? 0 : lo]!;
}

const AGREEING_SETS: Record<string, Record<string, number>> = {
  "three equal servers": equalServers(3),
  "weights 1:2:3": { "10.0.1.1:11211": 1, "10.0.1.2:11211": 2, "10.0.1.3:11211": 3 },
  "five servers weighted 100..500": {
    "10.0.2.1:11211": 100,
    "10.0.2.2:11211": 200,
    "10.0.2.3:11211": 150,
    "10.0.2.4:11211": 50,
    "10.0.2.5:11211": 500,
  },
  "ten servers weighted 1..10": Object.fromEntries(
    Array.from({ length: 10 }, (_, i) => [`cache${i + 1}.example.com:11211`, i + 1]),
  ),
};

describe("ketama agrees with npm hashring where both round the same way", () => {
  it.each(Object.entries(AGREEING_SETS))("%s: same node for 100,000 keys", (_, servers) => {
    const weights = Object.values(servers);
    const total = weights.reduce((a, b) => a + b, 0);
    // Precondition: float (C) and double (npm) give every server the same count.
    for (const w of weights) {
      expect(ketamaPointCount(w, total, weights.length)).toBe(
        npmPointCount(w, total, weights.length),
      );
    }
    const ring = ours(servers);
    const npm = new NpmHashRing(servers);
    expect(ring.circle().positions.length).toBe(npm.ring.length);
    expect(disagreements(ring, npm)).toEqual([]);
  });
});

describe("ketama follows C's single-precision point count where npm does not", () => {
  /*
   * C computes, for n equal servers,
   *   pct = (float)1 / (float)n
   *   floorf((float)(pct * 160 / 4 * (float)n + 0.0000000001))
   * with every product rounded to float (24-bit mantissa).
   *
   * n = 7: (float)(1/7) = 0.1428571492433548 (above 1/7). pct * 160 rounds to
   *   22.85714340209961; / 4 is exact: 5.714285850524902; * 7 is exactly
   *   40.000000953674316, within half a float ulp (2^-19 ≈ 1.9e-6) of 40, so
   *   it rounds to 40.0. Adding 1e-10 in double and casting back to float
   *   gives 40.0 again: 40 groups, 160 points.
   *   npm: 1/7 in double is 0.14285714285714285 (below 1/7); * 40 * 7 =
   *   39.99999999999999; floor = 39 groups, 156 points.
   * n = 14 and n = 28: (float)(1/n) is (float)(1/7) / 2 and / 4 (exact
   *   power-of-two scalings), so every step is the n = 7 case scaled, and
   *   the product again rounds to exactly 40.0: 160 points. npm again gets
   *   39.99999999999999: 156 points.
   * n = 25, the other way round: (float)(1/25) = 0.03999999910593033 (below
   *   0.04). * 160 -> 6.399999618530273, / 4 -> 1.5999999046325684, * 25 =
   *   39.99999761581421 exactly, which rounds to the float 39.999996185302734;
   *   + 1e-10 does not survive the cast back: floor = 39, 156 points.
   *   npm: 1/25 * 40 * 25 = 40 exactly in double: 160 points.
   */
  const C_POINTS: [number, number, number][] = [
    // [servers, C points per server, npm points per server]
    [7, 160, 156],
    [14, 160, 156],
    [28, 160, 156],
    [25, 156, 160],
  ];

  it.each(C_POINTS)("%i equal servers: C gives %i points each, npm %i", (n, cPoints, npmPoints) => {
    expect(ketamaPointCount(1, n, n)).toBe(cPoints);
    expect(npmPointCount(1, n, n)).toBe(npmPoints);
    // The float steps the derivation above relies on.
    const f = Math.fround;
    expect(f(f(f(f(1) / f(n)) * 160) / 4) * n).not.toBe(40);
    expect(f(f(f(f(f(1) / f(n)) * 160) / 4) * f(n))).toBe(
      cPoints === 160 ? 40 : 39.999996185302734,
    );

    const ring = ours(equalServers(n));
    const npm = new NpmHashRing(equalServers(n));
    expect(ring.circle().positions.length).toBe(n * cPoints);
    expect(npm.ring.length).toBe(n * npmPoints);

    // npm misroutes exactly the keys that land on the four points per server
    // (group 39) present in one ring and not the other.
    const differing = disagreements(ring, npm);
    expect(differing.length).toBeGreaterThan(0);
    const longer = cPoints > npmPoints ? ring.circle().positions : npm.ring.map((p) => p.value);
    const extra = new Set(Object.keys(equalServers(n)).flatMap((id) => groupPoints(id, 39)));
    expect(differing.filter((key) => !extra.has(successorPoint(longer, key)))).toEqual([]);

    // npm told to use C's group count maps every key as we do.
    const forced = npmWithGroups(
      Object.fromEntries(Object.keys(equalServers(n)).map((id) => [id, cPoints / 4])),
    );
    expect(forced.ring.length).toBe(n * cPoints);
    expect(disagreements(ring, forced)).toEqual([]);
  });

  it("weighted servers 3,4,5,6,7: C and npm differ for four of five servers", () => {
    const weights = [3, 4, 5, 6, 7];
    const servers = Object.fromEntries(weights.map((w, i) => [`mc${i}:11211`, w]));
    // Weight 3 of 25: (float)0.12 = 0.11999999731779099; * 160 / 4 * 5 rounds
    // to 23.999998092651367 in float, so C floors to 23 groups where npm's
    // double 0.12 * 40 * 5 = 24 exactly. Weights 4 and 6 fall short the same way.
    const cPoints = weights.map((w) => ketamaPointCount(w, 25, 5));
    expect(cPoints).toEqual([92, 124, 160, 188, 224]);
    expect(weights.map((w) => npmPointCount(w, 25, 5))).toEqual([96, 128, 160, 192, 224]);
    const ring = ours(servers);
    expect(disagreements(ring, new NpmHashRing(servers)).length).toBeGreaterThan(0);
    const forced = npmWithGroups(
      Object.fromEntries(Object.keys(servers).map((id, i) => [id, cPoints[i]! / 4])),
    );
    expect(disagreements(ring, forced)).toEqual([]);
  });
});

describe("ketama details", () => {
  it('places group g of a server at MD5 of "<id>-<g>" read as four little-endian words', () => {
    const ring = ours({ "127.0.0.1:11211": 1 });
    const positions = new Set(ring.circle().positions);
    for (let g = 0; g < 40; g++) {
      for (const p of groupPoints("127.0.0.1:11211", g)) expect(positions.has(p)).toBe(true);
    }
    expect(positions.has(groupPoints("127.0.0.1:11211", 40)[0]!)).toBe(false);
  });

  it("a server whose share rounds to zero groups owns nothing and getN says so", () => {
    const ring = ours({ big: 1000, tiny: 1 });
    expect(ring.pointCounts().get("tiny")).toBe(0);
    expect(KEYS.slice(0, 2000).every((k) => ring.get(k) === "big")).toBe(true);
    expect(() => ring.getN("k", 2)).toThrow(/only 1 is available.*own no part/);
  });
});
