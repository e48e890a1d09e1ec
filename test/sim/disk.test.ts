import { describe, expect, it } from "vitest";
import {
  EMPTY_HARD_STATE,
  type Entry,
  EntryType,
  type HardState,
} from "../../src/raft/core/index.js";
import { Xoshiro128 } from "../../src/raft/core/prng.js";
import type { PersistUpdate } from "../../src/raft/storage/node-storage.js";
import { SimDisk } from "../../src/sim/disk.js";
import { SimProcess } from "../../src/sim/process.js";
import { Scheduler } from "../../src/sim/scheduler.js";

const WRITE_MS = 10;

const entries = (from: number, to: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    term: 1,
    index: from + i,
    type: EntryType.Normal,
    data: new Uint8Array([from + i]),
  }));

const hardState: HardState = { term: 1, vote: 1, commit: 5 };
const update: PersistUpdate = { entries: entries(1, 5), hardState };

/** One server: a scheduler, a process on it, and a disk whose writes take WRITE_MS. */
function server(opts: { seed?: number; tornWrites?: boolean; rate?: number } = {}) {
  const seed = opts.seed ?? 1;
  const scheduler = new Scheduler();
  const process = new SimProcess(scheduler, opts.rate ?? 1, new Xoshiro128(seed));
  const disk = new SimDisk(
    { writeDelayMs: () => WRITE_MS, tornWrites: opts.tornWrites ?? false },
    new Xoshiro128(seed + 1000),
  );
  let persisted = 0;
  const storage = disk.mount(process, () => persisted++);
  /** Saves `u` and reports whether its promise has resolved. */
  const save = (u: PersistUpdate = update) => {
    const state = { resolved: false };
    void storage.save(u).then(() => {
      state.resolved = true;
    });
    return state;
  };
  /** kill -9, as a member does it: the process dies, the write in flight is lost or torn. */
  const crash = () => {
    process.kill();
    disk.crash();
  };
  return { scheduler, process, disk, storage, save, crash, persisted: () => persisted };
}

describe("SimDisk", () => {
  it("makes a write durable and resolves it only after its latency", async () => {
    const s = server();
    const write = s.save();
    await s.scheduler.run(WRITE_MS - 1);
    expect(write.resolved).toBe(false);
    expect(s.disk.durable.lastIndex()).toBe(0);
    expect(s.persisted()).toBe(0);

    await s.scheduler.run(WRITE_MS);
    expect(write.resolved).toBe(true);
    expect(s.disk.durable.entries(1, 6, Infinity)).toEqual(update.entries);
    expect(s.disk.durable.hardState()).toEqual(hardState);
    expect(s.persisted()).toBe(1);
  });

  it("loses a write in flight when the process crashes", async () => {
    const s = server();
    const write = s.save();
    await s.scheduler.run(WRITE_MS / 2);
    s.crash();
    await s.scheduler.run(100);
    expect(write.resolved).toBe(false);
    expect(s.disk.durable.lastIndex()).toBe(0);
    expect(s.disk.durable.hardState()).toEqual(EMPTY_HARD_STATE);
    expect(s.persisted()).toBe(0);
  });

  it("with torn writes keeps a prefix of the entries, and the hard state only with all of them", async () => {
    const kept = new Set<number>();
    let hardStateKept = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const s = server({ seed, tornWrites: true });
      s.save();
      await s.scheduler.run(WRITE_MS / 2);
      s.crash();
      const last = s.disk.durable.lastIndex();
      expect(s.disk.durable.entries(1, last + 1, Infinity)).toEqual(entries(1, 5).slice(0, last));
      const hs = s.disk.durable.hardState();
      if (hs !== EMPTY_HARD_STATE) {
        expect(last).toBe(5);
        expect(hs).toEqual(hardState);
        hardStateKept++;
      }
      kept.add(last);
    }
    // The seeds cover the interesting cases: nothing, part, all with and without the hard state.
    expect(kept.has(0)).toBe(true);
    expect([1, 2, 3, 4].some((n) => kept.has(n))).toBe(true);
    expect(kept.has(5)).toBe(true);
    expect(hardStateKept).toBeGreaterThan(0);
  });

  it("completes a paused process's write only after it resumes", async () => {
    const s = server();
    const write = s.save();
    s.process.pause(50);
    await s.scheduler.run(49);
    expect(write.resolved).toBe(false);
    expect(s.disk.durable.lastIndex()).toBe(0);

    // Held work is released within a few ms of the resume.
    await s.scheduler.run(60);
    expect(write.resolved).toBe(true);
    expect(s.disk.durable.lastIndex()).toBe(5);
  });

  it("never resolves nor lands writes of a killed process", async () => {
    const s = server();
    s.crash();
    const write = s.save();
    await s.scheduler.run(100);
    expect(write.resolved).toBe(false);
    expect(s.disk.durable.lastIndex()).toBe(0);
  });

  it("ignores the old incarnation once the disk is mounted by a new one", async () => {
    const s = server();
    s.crash();
    const next = new SimProcess(s.scheduler, 1, new Xoshiro128(7));
    const storage = s.disk.mount(next, () => {});
    const stale = s.save({ entries: entries(1, 1) });
    let resolved = false;
    void storage.save({ entries: entries(1, 2) }).then(() => {
      resolved = true;
    });
    await s.scheduler.run(100);
    expect(stale.resolved).toBe(false);
    expect(resolved).toBe(true);
    expect(storage.lastIndex()).toBe(2);
  });
});

describe("Scheduler", () => {
  it("runs events at the same time in the order they were scheduled", async () => {
    const scheduler = new Scheduler();
    const order: string[] = [];
    scheduler.at(5, () => order.push("a"));
    scheduler.at(1, () => order.push("b"));
    scheduler.at(5, () => order.push("c"));
    await scheduler.run(10);
    expect(order).toEqual(["b", "a", "c"]);
    expect(scheduler.now).toBe(10);
  });

  it("drains a deep promise chain an event starts before the next event runs", async () => {
    const scheduler = new Scheduler();
    const order: string[] = [];
    const chain = async (depth: number): Promise<void> => {
      for (let i = 0; i < depth; i++) await Promise.resolve();
    };
    scheduler.at(1, () => {
      void chain(100).then(() => order.push("chain of 100 awaits done"));
    });
    scheduler.at(1, () => order.push("next event"));
    await scheduler.run(10);
    expect(order).toEqual(["chain of 100 awaits done", "next event"]);
  });

  it("stops at the event after which `done` holds", async () => {
    const scheduler = new Scheduler();
    let flag = false;
    scheduler.at(3, () => {
      void Promise.resolve().then(() => {
        flag = true;
      });
    });
    scheduler.at(4, () => {});
    expect(await scheduler.run(10, () => flag)).toBe(true);
    expect(scheduler.now).toBe(3);
    expect(scheduler.pending).toBe(1);
  });
});

describe("SimProcess", () => {
  it("runs its clock at its rate and fires timers at local time", async () => {
    const s = server({ rate: 1.5 });
    const fired: { local: number; virtual: number }[] = [];
    s.process.clock.setTimer(() => {
      fired.push({ local: s.process.clock.now(), virtual: s.scheduler.now });
    }, 30);
    const cancel = s.process.clock.setTimer(() => fired.push({ local: -1, virtual: -1 }), 15);
    cancel();
    await s.scheduler.run(100);
    expect(fired).toEqual([{ local: 30, virtual: 20 }]);
    expect(s.process.clock.now()).toBe(150);
  });

  it("holds timers and run callbacks while paused, until it resumes", async () => {
    const s = server();
    const ran: string[] = [];
    s.process.clock.setTimer(() => ran.push("timer"), 10);
    s.process.pause(50);
    expect(s.process.paused).toBe(true);
    s.process.run(() => ran.push("input"));
    await s.scheduler.run(49);
    expect(ran).toEqual([]);

    await s.scheduler.run(60);
    expect(s.process.paused).toBe(false);
    expect(ran.sort()).toEqual(["input", "timer"]);
  });

  it("resumes early when told to", async () => {
    const s = server();
    const ran: number[] = [];
    s.process.pause(1000);
    s.process.run(() => ran.push(s.scheduler.now));
    await s.scheduler.run(20);
    s.process.resume();
    s.process.run(() => ran.push(s.scheduler.now));
    await s.scheduler.run(30);
    expect(ran).toHaveLength(2);
    expect(ran.every((t) => t >= 20 && t <= 25)).toBe(true);
  });

  it("drops held and future work when killed", async () => {
    const s = server();
    const ran: string[] = [];
    s.process.clock.setTimer(() => ran.push("timer"), 10);
    s.process.pause(5);
    s.process.run(() => ran.push("held"));
    s.process.kill();
    s.process.run(() => ran.push("after kill"));
    s.process.after(1, () => ran.push("scheduled after kill"));
    await s.scheduler.run(100);
    expect(s.process.alive).toBe(false);
    expect(ran).toEqual([]);
  });
});
