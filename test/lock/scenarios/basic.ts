/** Single-process scenarios: validation, ownership, fencing, waiting. */
import { expect, it } from "vitest";
import { InvalidArgumentError } from "../../../src/errors.js";
import {
  LockAbortedError,
  LockTimeoutError,
  MAX_LOCK_NAME_LENGTH,
  NotLockOwnerError,
  type TokenType,
  UnsupportedByBackendError,
} from "../../../src/lock/index.js";
import type { SuiteContext } from "../conformance.js";

export function registerBasicScenarios<TToken extends TokenType>(ctx: SuiteContext<TToken>): void {
  it("rejects bad input with InvalidArgumentError before touching the backend", async () => {
    const locks = await ctx.client();
    const name = ctx.uniqueName("validation");
    const badNames: unknown[] = ["", "x".repeat(MAX_LOCK_NAME_LENGTH + 1), "a\u0000b", "\uD800", 7];
    for (const bad of badNames) {
      await expect(locks.acquire(bad as string)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    for (const ttlMs of [0, -1, Number.NaN, 1.5, Number.POSITIVE_INFINITY, 2 ** 31]) {
      await expect(locks.acquire(name, { ttlMs })).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
      });
    }
    for (const waitMs of [-1, Number.NaN]) {
      await expect(locks.acquire(name, { waitMs })).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
      });
    }
    expect(() => locks.semaphore(name, { permits: 0 })).toThrow(InvalidArgumentError);
    expect(() => locks.semaphore(name, { permits: 1.5 })).toThrow(InvalidArgumentError);
    // None of the rejected calls may have taken the lock.
    const lock = await locks.tryAcquire(name);
    expect(lock).toBeDefined();
    await lock?.release();
  });

  it("grants a free lock, refuses a held one, and frees it on release", async () => {
    const a = await ctx.client();
    const b = await ctx.client();
    const name = ctx.uniqueName("basic");
    const held = await a.acquire(name, { ttlMs: ctx.target.ttlMs * 5 });
    expect(held.held).toBe(true);
    expect(held.signal.aborted).toBe(false);
    expect(await b.tryAcquire(name)).toBeUndefined();
    await held.release();
    expect(held.signal.aborted).toBe(true);
    await held.release(); // idempotent
    const next = await b.tryAcquire(name);
    expect(next).toBeDefined();
    await next?.release();
  });

  it("releases at the end of an `await using` block and when withLock's fn throws", async () => {
    const locks = await ctx.client();
    const name = ctx.uniqueName("dispose");
    {
      await using lock = await locks.acquire(name);
      expect(lock.held).toBe(true);
      expect(await locks.tryAcquire(name)).toBeUndefined();
    }
    const failure = new Error("work failed");
    await expect(
      locks.withLock(name, () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    const result = await locks.withLock(name, (lock) => {
      expect(lock.held).toBe(true);
      return 42;
    });
    expect(result).toBe(42);
    const free = await locks.tryAcquire(name);
    expect(free).toBeDefined();
    await free?.release();
  });

  it("hands out fencing tokens that strictly increase per name", async () => {
    const clients = [await ctx.client(), await ctx.client()];
    const names = [ctx.uniqueName("fencing-a"), ctx.uniqueName("fencing-b")];
    const tokens = new Map<string, TokenType[]>(names.map((n) => [n, []]));
    for (let i = 0; i < 12; i++) {
      const name = names[i % 2]!;
      const lock = await clients[Math.floor(i / 2) % 2]!.acquire(name);
      tokens.get(name)!.push(lock.fencingToken);
      await lock.release();
    }
    for (const seq of tokens.values()) {
      const fencing = clients[0]!.guarantees.fencing;
      if (fencing === "none") {
        expect(seq.every((t) => t === undefined)).toBe(true);
        continue;
      }
      for (let i = 1; i < seq.length; i++) {
        expect(typeof seq[i]).toBe("bigint");
        expect((seq[i] as bigint) > (seq[i - 1] as bigint)).toBe(true);
      }
    }
  });

  it("rejects release by a non-owner and keeps the real owner's lock", async () => {
    const ttlMs = ctx.target.ttlMs;
    const a = await ctx.client();
    const b = await ctx.client();
    const name = ctx.uniqueName("non-owner");
    // A's lease is not renewed, so it runs out and B takes the lock.
    const stale = await a.acquire(name, { ttlMs, autoRenew: false });
    const owner = await b.acquire(name, { ttlMs: ttlMs * 10, waitMs: ttlMs * 10 });
    expect(stale.signal.aborted).toBe(true);
    await expect(stale.release()).rejects.toBeInstanceOf(NotLockOwnerError);
    expect(await a.tryAcquire(name)).toBeUndefined();
    await expect(stale.extend()).rejects.toMatchObject({ code: "LOCK_LOST" });
    await owner.release();
  });

  it("honours waitMs: tryAcquire does not wait, acquire gives up only after waitMs", async () => {
    const ttlMs = ctx.target.ttlMs;
    const a = await ctx.client();
    const b = await ctx.client();
    const name = ctx.uniqueName("wait");
    const held = await a.acquire(name, { ttlMs });
    const clock = b.backend.clock;
    const waitMs = Math.round(ttlMs / 2);
    const started = clock.now();
    const error = await b.acquire(name, { waitMs }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(clock.now() - started).toBeGreaterThanOrEqual(waitMs);
    // A waiter gets the lock once it is released within its waitMs.
    let queued!: () => void;
    const isQueued = new Promise<void>((resolve) => {
      queued = resolve;
    });
    const waiting = b.acquire(name, { waitMs: ttlMs * 20, onQueued: queued });
    await isQueued;
    await held.release();
    const next = await waiting;
    expect(next.held).toBe(true);
    await next.release();
  });

  it("cancels a wait on AbortSignal and leaves nothing queued behind", async () => {
    const a = await ctx.client();
    const b = await ctx.client();
    const c = await ctx.client();
    const name = ctx.uniqueName("abort");
    const held = await a.acquire(name);
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    const waiting = b.acquire(name, {
      signal: controller.signal,
      onQueued: () => controller.abort(reason),
    });
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockAbortedError);
    expect((error as LockAbortedError).cause).toBe(reason);
    await held.release();
    // An orphaned queue entry would sit ahead of C and make it wait.
    const next = await c.tryAcquire(name);
    expect(next).toBeDefined();
    await next?.release();
    expect(b.heldCount).toBe(0);
  });

  it("rejects primitives the backend does not offer with UnsupportedByBackendError", async () => {
    const locks = await ctx.client();
    const name = ctx.uniqueName("unsupported");
    const kinds = locks.guarantees.kinds;
    if (!kinds.includes("semaphore")) {
      await expect(locks.semaphore(name, { permits: 2 }).acquire()).rejects.toBeInstanceOf(
        UnsupportedByBackendError,
      );
    }
    if (!kinds.includes("leader")) {
      await expect(locks.election(name).campaign("x")).rejects.toBeInstanceOf(
        UnsupportedByBackendError,
      );
    }
    if (!kinds.includes("read")) {
      await expect(locks.readWriteLock(name).acquireRead()).rejects.toBeInstanceOf(
        UnsupportedByBackendError,
      );
    }
    expect(kinds).toContain("mutex");
  });
}
