import { describe, expect, it } from "vitest";
import { WatchFrame } from "../../src/server/watch-frames.js";
import { type BudgetedStream, WatchMemory } from "../../src/server/watch-memory.js";

const frame = (bytes: number, seq: number) => new WatchFrame(Buffer.alloc(bytes), seq);

/** A stream that holds frames in order and records when it is cut. */
class FakeStream implements BudgetedStream {
  readonly frames: WatchFrame[] = [];
  cut = false;
  constructor(private readonly memory: WatchMemory) {
    memory.add(this);
  }
  get oldestHeldSeq(): number | undefined {
    return this.cut ? undefined : this.frames[0]?.seq;
  }
  take(f: WatchFrame): void {
    this.memory.hold(f);
    this.frames.push(f);
  }
  cutForTotalBudget(): void {
    this.cut = true;
    this.memory.remove(this);
    // As a real stream: the oldest frame is already in the socket, the rest is dropped.
    const [inSocket, ...queued] = this.frames;
    for (const f of queued) this.memory.release(f, false);
    if (inSocket !== undefined) this.memory.markDraining(inSocket);
    this.frames.splice(1);
  }
}

describe("WatchMemory", () => {
  it("counts a frame shared by many streams once, and frees it with its last holder", () => {
    const memory = new WatchMemory(10_000);
    const shared = frame(1000, 1);
    const streams = Array.from({ length: 50 }, () => new FakeStream(memory));
    for (const s of streams) s.take(shared);
    expect(memory.heldBytes).toBe(1000);
    for (let i = 1; i < streams.length; i++) memory.release(shared, false);
    expect(memory.heldBytes).toBe(1000);
    memory.release(shared, false);
    expect(memory.heldBytes).toBe(0);
  });

  it("cuts the streams furthest behind until the live bytes fit, and no more", () => {
    const memory = new WatchMemory(2500);
    const [slowest, slow, fast] = [
      new FakeStream(memory),
      new FakeStream(memory),
      new FakeStream(memory),
    ];
    const frames = [1, 2, 3, 4].map((seq) => frame(1000, seq));
    slowest.take(frames[0]!);
    slowest.take(frames[1]!);
    slow.take(frames[1]!);
    slow.take(frames[2]!);
    fast.take(frames[3]!);
    expect(memory.heldBytes).toBe(4000);
    memory.enforce();
    // slowest's in-socket frame 1 drains out of the budget; frame 2 stays with slow: 3000 live.
    expect(slowest.cut).toBe(true);
    expect(slow.cut).toBe(true);
    expect(fast.cut).toBe(false);
    expect(memory.cutCount).toBe(2);
    expect(memory.heldBytes - memory.drainingBytes).toBeLessThanOrEqual(2500);
  });

  it("frees a draining frame when its socket is done with it", () => {
    const memory = new WatchMemory(1500);
    const a = new FakeStream(memory);
    const b = new FakeStream(memory);
    const old = frame(1000, 1);
    const next = frame(1000, 2);
    a.take(old);
    b.take(next);
    memory.enforce();
    expect(a.cut).toBe(true);
    expect(b.cut).toBe(false);
    expect(memory.drainingBytes).toBe(1000);
    memory.release(old, true);
    expect(memory.drainingBytes).toBe(0);
    expect(memory.heldBytes).toBe(1000);
  });

  it("keeps a frame live while any uncut stream still holds it", () => {
    const memory = new WatchMemory(100_000);
    const shared = frame(1000, 1);
    const a = new FakeStream(memory);
    const b = new FakeStream(memory);
    a.take(shared);
    b.take(shared);
    memory.markDraining(shared);
    expect(memory.drainingBytes).toBe(0);
    memory.release(shared, false);
    expect(memory.drainingBytes).toBe(1000);
    memory.release(shared, true);
    expect(memory.heldBytes).toBe(0);
    expect(memory.drainingBytes).toBe(0);
  });
});
