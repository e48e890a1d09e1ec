import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { ReadBatches } from "../../../src/raft/node/read-batches.js";

const RETRY_MS = 100;

/** The batches a node would ask ReadIndex for, in order. */
function setUp() {
  const clock = new ManualClock();
  const reads = new ReadBatches(clock, "n1:ab", RETRY_MS);
  const asked: string[] = [];
  const issue = () => reads.issue((ctx) => asked.push(ctx));
  const settled: string[] = [];
  const read = (name: string, timeoutMs = 10_000) =>
    reads
      .add(timeoutMs, undefined, () => {})
      .then(
        () => settled.push(`${name} ok`),
        (err: Error) => settled.push(`${name} ${err.name}`),
      );
  return { clock, reads, asked, issue, settled, read };
}

describe("ReadBatches: one ReadIndex batch asked at a time", () => {
  it("reads arriving while a batch is unanswered wait for the next, which serves them all", async () => {
    const { reads, asked, issue, settled, read } = setUp();
    void read("a");
    void read("b");
    issue();
    expect(asked).toHaveLength(1);
    void read("c");
    void read("d");
    issue();
    issue();
    expect(asked).toHaveLength(1);
    reads.granted([{ index: 5, context: asked[0]! }]);
    reads.applied(5);
    await Promise.resolve();
    await Promise.resolve();
    expect(settled.sort()).toEqual(["a ok", "b ok"]);
    issue();
    expect(asked).toHaveLength(2);
    reads.granted([{ index: 7, context: asked[1]! }]);
    reads.applied(7);
    await new Promise((r) => setImmediate(r));
    expect(settled.sort()).toEqual(["a ok", "b ok", "c ok", "d ok"]);
  });

  it("a batch unanswered for the retry time no longer holds the next back", async () => {
    const { clock, asked, issue, read } = setUp();
    void read("a");
    issue();
    void read("b");
    await clock.advance(RETRY_MS - 1);
    issue();
    expect(asked).toHaveLength(1);
    await clock.advance(1);
    issue();
    expect(asked).toHaveLength(2);
  });

  it("a batch whose reads have all settled holds nothing back", async () => {
    const { clock, asked, issue, settled, read } = setUp();
    void read("a", 10);
    issue();
    await clock.advance(10);
    await new Promise((r) => setImmediate(r));
    expect(settled).toEqual(["a RaftTimeoutError"]);
    void read("b");
    issue();
    expect(asked).toHaveLength(2);
  });
});
