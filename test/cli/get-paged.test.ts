import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ListeningMember, startListeningMember } from "../server/single-member.js";
import { runInProcess } from "./run-cli.js";

const KEYS = 40;
const keyOf = (i: number) => `paged/${String(i).padStart(3, "0")}`;

let member: ListeningMember;
const run = (args: string[]) => runInProcess([...args, "--endpoints", member.url]);

beforeAll(async () => {
  // A budget of a few keys per answer, so a prefix read takes many pages.
  member = await startListeningMember({ maxRangeBytes: 200 });
  for (let i = 0; i < KEYS; i++) await run(["put", keyOf(i), `value-${i}`]);
});
afterAll(async () => {
  await member.stop();
});

describe("conclave get over a range larger than one answer", () => {
  it("prints every key of the prefix in order, page by page", async () => {
    const { stdout } = await run(["get", "paged/", "--prefix", "--keys-only"]);
    expect(stdout).toBe(Array.from({ length: KEYS }, (_, i) => `${keyOf(i)}\n`).join(""));
  });

  it("honours --limit across pages and reports the exact count in JSON", async () => {
    const doc = JSON.parse(
      (await run(["get", "paged/", "--prefix", "--limit", "25", "--json"])).stdout,
    ) as { count: number; more: boolean; kvs: { key: string; value: string }[] };
    expect(doc.count).toBe(KEYS);
    expect(doc.more).toBe(true);
    expect(doc.kvs.map((kv) => kv.key)).toEqual(Array.from({ length: 25 }, (_, i) => keyOf(i)));
    expect(doc.kvs[24]?.value).toBe("value-24");
  });
});
