import { describe, expect, it } from "vitest";
import { FrameQueue } from "../../src/server/watch-frame-queue.js";
import { WatchFrame } from "../../src/server/watch-frames.js";

const frame = (bytes: number, seq: number) => new WatchFrame(Buffer.alloc(bytes), seq);

describe("FrameQueue", () => {
  it("keeps order and byte count across many pushes and shifts", () => {
    const queue = new FrameQueue();
    const taken: number[] = [];
    let seq = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 1500; i++) queue.push(frame(10, ++seq));
      for (let i = 0; i < 1000; i++) taken.push(queue.shift()!.seq);
    }
    expect(taken).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    expect(queue.length).toBe(2500);
    expect(queue.byteLength).toBe(25_000);
    expect(queue.peek()?.seq).toBe(5001);
    expect(queue.takeAll().map((f) => f.seq)).toEqual(
      Array.from({ length: 2500 }, (_, i) => 5001 + i),
    );
    expect(queue.length).toBe(0);
    expect(queue.byteLength).toBe(0);
    expect(queue.shift()).toBeUndefined();
  });
});
