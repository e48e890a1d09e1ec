import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientError, ConclaveClient, seededRandom } from "../../src/client/index.js";
import { b64 } from "./cluster.js";
import { type ListeningMember, startListeningMember } from "./single-member.js";

const MAX_RANGE_BYTES = 4096;
const KEYS = 120;
const keyOf = (i: number) => `page/${String(i).padStart(4, "0")}`;

let member: ListeningMember;
let client: ConclaveClient;

beforeAll(async () => {
  member = await startListeningMember({ maxRangeBytes: MAX_RANGE_BYTES });
  client = new ConclaveClient({ endpoints: [member.url], random: seededRandom(3) });
  for (let i = 0; i < KEYS; i++) await client.put(keyOf(i), "v".repeat(100 + (i % 7) * 50));
});
afterAll(async () => {
  await client.close();
  await member.stop();
});

describe("range answers within a byte budget", () => {
  it("answers more and a base64 next_key past the budget, with an exact count", async () => {
    const res = await fetch(`${member.url}/v3/kv/range`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: b64("page/"), range_end: b64("page0") }),
    });
    const body = (await res.json()) as {
      kvs: { key: string; value: string }[];
      more: boolean;
      count: string;
      next_key: string;
    };
    expect(res.status).toBe(200);
    expect(body.more).toBe(true);
    expect(body.count).toBe(String(KEYS));
    const bytes = body.kvs.reduce(
      (n, kv) => n + Buffer.from(kv.key, "base64").length + Buffer.from(kv.value, "base64").length,
      0,
    );
    expect(bytes).toBeLessThanOrEqual(MAX_RANGE_BYTES);
    expect(Buffer.from(body.next_key, "base64").toString()).toBe(keyOf(body.kvs.length));
  });

  it("lets the SDK walk the whole range lazily: every key once, in order, at one revision", async () => {
    const pages = client.rangePages({ key: "page/", prefix: true });
    const first = await pages.next();
    expect(first.done).toBe(false);
    const firstPage = first.value!;
    // A write after the first page is not seen by the later ones: they read its revision.
    await client.put(keyOf(KEYS + 1), "late");
    const keys = firstPage.kvs.map((kv) => kv.keyString);
    let count = 1;
    for await (const page of pages) {
      count++;
      expect(
        page.kvs.reduce((n, kv) => n + kv.key.byteLength + kv.value.byteLength, 0),
      ).toBeLessThanOrEqual(MAX_RANGE_BYTES);
      keys.push(...page.kvs.map((kv) => kv.keyString));
    }
    expect(count).toBeGreaterThan(3);
    expect(keys).toEqual(Array.from({ length: KEYS }, (_, i) => keyOf(i)));

    const scanned: string[] = [];
    for await (const kv of client.scan({ key: "page/", prefix: true, keysOnly: true })) {
      scanned.push(kv.keyString);
    }
    expect(scanned).toEqual([...Array.from({ length: KEYS }, (_, i) => keyOf(i)), keyOf(KEYS + 1)]);
  });

  it("refuses to page a range in an order it cannot continue", async () => {
    const pages = client.rangePages({ key: "page/", prefix: true, sortOrder: "descend" });
    await expect(pages.next()).rejects.toBeInstanceOf(ClientError);
  });
});
