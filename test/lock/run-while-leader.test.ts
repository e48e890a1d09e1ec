/** runWhileLeader over the in-memory backend with a manual clock, and once against a Conclave cluster. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/errors.js";
import { ConclaveLockBackend } from "../../src/lock/conclave/index.js";
import {
  BackendUnavailableError,
  type LeaderHandle,
  type LeaderRunPhase,
  LockClient,
  ManualClock,
  MemoryLockBackend,
  MemoryLockStore,
  runWhileLeader,
} from "../../src/lock/index.js";
import { waitFor } from "../support/wait-for.js";
import { type ConclaveTestCluster, startConclaveCluster } from "./support/conclave-cluster.js";

function setup() {
  const clock = new ManualClock();
  const store = new MemoryLockStore({ clock });
  const connect = () => new MemoryLockBackend({ store });
  const leaderOf = async (name: string) =>
    new LockClient(connect())
      .election(name)
      .leader()
      .then((l) => l?.value);
  return { clock, store, connect, leaderOf };
}

/** A work function whose terms the test ends by hand. */
function controlledWork() {
  const terms: { signal: AbortSignal; leadership: LeaderHandle<bigint>; end: () => void }[] = [];
  const fn = (signal: AbortSignal, leadership: LeaderHandle<bigint>) =>
    new Promise<void>((resolve) => {
      terms.push({ signal, leadership, end: resolve });
    });
  return { terms, fn };
}

describe("runWhileLeader over the memory backend", () => {
  it("runs the work while leader, resigns when it returns, and campaigns again", async () => {
    const { clock, connect, leaderOf } = setup();
    const a = controlledWork();
    const b = controlledWork();
    const runnerA = runWhileLeader(new LockClient(connect()), "jobs", a.fn, { value: "a" });
    await clock.advance(0);
    const runnerB = runWhileLeader(new LockClient(connect()), "jobs", b.fn, { value: "b" });
    await clock.advance(0);
    expect(a.terms).toHaveLength(1);
    expect(b.terms).toHaveLength(0);
    expect(runnerA.leadership?.value).toBe("a");
    expect(runnerB.leadership).toBeUndefined();
    expect(await leaderOf("jobs")).toBe("a");

    a.terms[0]!.end();
    await clock.advance(0);
    // A resigned; B (queued first) leads; A waits again behind it.
    expect(b.terms).toHaveLength(1);
    expect(await leaderOf("jobs")).toBe("b");
    expect(b.terms[0]!.leadership.fencingToken > a.terms[0]!.leadership.fencingToken).toBe(true);
    expect(a.terms[0]!.signal.aborted).toBe(true);
    expect(runnerA.terms).toBe(1);

    b.terms[0]!.end();
    await clock.advance(0);
    expect(a.terms).toHaveLength(2);
    expect(runnerA.terms).toBe(2);
    await runnerB.stop();
    a.terms[1]!.end();
    await runnerA.stop();
    expect(await leaderOf("jobs")).toBeUndefined();
  });

  it("reports a throwing work function, resigns, and campaigns again after retryDelayMs", async () => {
    const { clock, connect, leaderOf } = setup();
    const errors: [unknown, LeaderRunPhase][] = [];
    let calls = 0;
    const runner = runWhileLeader(
      new LockClient(connect()),
      "jobs",
      async () => {
        calls += 1;
        throw new Error(`boom ${calls}`);
      },
      { value: "a", retryDelayMs: 500, onError: (e, phase) => errors.push([e, phase]) },
    );
    await clock.advance(0);
    expect(calls).toBe(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]![1]).toBe("lead");
    expect((errors[0]![0] as Error).message).toBe("boom 1");
    expect(await leaderOf("jobs")).toBeUndefined();
    await clock.advance(499);
    expect(calls).toBe(1);
    await clock.advance(1);
    expect(calls).toBe(2);
    await runner.stop();
  });

  it("aborts the work's signal when leadership is lost, and leads again once the backend is back", async () => {
    const { clock, connect, leaderOf } = setup();
    const backendA = connect();
    const locksA = new LockClient(backendA);
    const a = controlledWork();
    const b = controlledWork();
    const errors: LeaderRunPhase[] = [];
    const runnerA = runWhileLeader(locksA, "jobs", a.fn, {
      value: "a",
      ttlMs: 300,
      retryDelayMs: 100,
      onError: (e, phase) => {
        expect(e).toBeInstanceOf(BackendUnavailableError);
        errors.push(phase);
      },
    });
    await clock.advance(0);
    const runnerB = runWhileLeader(new LockClient(connect()), "jobs", b.fn, {
      value: "b",
      ttlMs: 300,
    });
    await clock.advance(0);
    const term = a.terms[0]!;
    backendA.disconnect();
    await clock.advance(300 - locksA.safetyMarginMs(300));
    expect(term.signal.aborted).toBe(true);
    expect(b.terms).toHaveLength(0);
    // The work ignores the loss for a while: nothing happens until it settles.
    term.end();
    await clock.advance(locksA.safetyMarginMs(300));
    expect(b.terms).toHaveLength(1);
    expect(await leaderOf("jobs")).toBe("b");
    // Campaigning fails while cut off and is retried every retryDelayMs.
    await clock.advance(250);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(new Set(errors)).toEqual(new Set(["campaign"]));
    backendA.reconnect();
    await clock.advance(100);
    b.terms[0]!.end();
    await clock.advance(0);
    expect(a.terms).toHaveLength(2);
    expect(await leaderOf("jobs")).toBe("a");
    const stopping = Promise.all([runnerA.stop(), runnerB.stop()]);
    a.terms[1]!.end();
    await stopping;
  });

  it("stop and dispose abort the work, wait for it to settle, then resign", async () => {
    const { clock, connect, leaderOf } = setup();
    const caller = new AbortController();
    let settled = false;
    let release = () => {};
    const runner = runWhileLeader(
      new LockClient(connect()),
      "jobs",
      async (signal) => {
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
        // Clean-up that takes a while after the abort.
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        settled = true;
      },
      { value: "a", signal: caller.signal },
    );
    await clock.advance(0);
    expect(await leaderOf("jobs")).toBe("a");
    caller.abort();
    let stopped = false;
    void runner.stopped.then(() => {
      stopped = true;
    });
    await clock.advance(0);
    expect(stopped).toBe(false);
    expect(await leaderOf("jobs")).toBe("a");
    release();
    await runner.stopped;
    expect(settled).toBe(true);
    expect(await leaderOf("jobs")).toBeUndefined();
    await runner[Symbol.asyncDispose]();
  });

  it("stops campaigning when stopped before it was elected", async () => {
    const { clock, connect, leaderOf } = setup();
    const holder = await new LockClient(connect()).election("jobs").campaign("other");
    let ran = false;
    const runner = runWhileLeader(
      new LockClient(connect()),
      "jobs",
      async () => {
        ran = true;
      },
      { value: "a" },
    );
    await clock.advance(0);
    await runner.stop();
    await holder.resign();
    await clock.advance(0);
    expect(ran).toBe(false);
    expect(await leaderOf("jobs")).toBeUndefined();
  });

  it("rejects bad arguments at the call", () => {
    const locks = new LockClient(new MemoryLockBackend());
    const fn = async () => {};
    expect(() => runWhileLeader(locks, "", fn)).toThrow(InvalidArgumentError);
    expect(() => runWhileLeader(locks, "x", fn, { retryDelayMs: -1 })).toThrow(
      InvalidArgumentError,
    );
    expect(() => runWhileLeader(locks, "x", fn, { ttlMs: 1 })).toThrow(InvalidArgumentError);
    expect(() => runWhileLeader(locks, "x", "nope" as never)).toThrow(InvalidArgumentError);
  });
});

describe("runWhileLeader against a Conclave cluster", () => {
  let cluster: ConclaveTestCluster;
  const clients: LockClient<bigint>[] = [];

  beforeAll(async () => {
    cluster = await startConclaveCluster();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.destroy()));
    await cluster?.stop();
  });

  function locks(): LockClient<bigint> {
    const client = new LockClient(new ConclaveLockBackend({ endpoints: cluster.endpoints }));
    clients.push(client);
    return client;
  }

  it("hands leadership over when the leader stops, with a larger fencing token", async () => {
    const a = controlledWork();
    const b = controlledWork();
    const runnerA = runWhileLeader(locks(), "scheduler", a.fn, { value: "a", ttlMs: 2000 });
    await waitFor(() => a.terms.length === 1, "a elected");
    const runnerB = runWhileLeader(locks(), "scheduler", b.fn, { value: "b", ttlMs: 2000 });
    const observer = locks().election("scheduler");
    expect((await observer.leader())?.value).toBe("a");
    const stopping = runnerA.stop();
    expect(a.terms[0]!.signal.aborted).toBe(true);
    a.terms[0]!.end();
    await stopping;
    await waitFor(() => b.terms.length === 1, "b elected", 10_000);
    expect(b.terms[0]!.leadership.fencingToken > a.terms[0]!.leadership.fencingToken).toBe(true);
    expect((await observer.leader())?.value).toBe("b");
    const stoppingB = runnerB.stop();
    b.terms[0]!.end();
    await stoppingB;
    expect(await observer.leader()).toBeUndefined();
  });
});
