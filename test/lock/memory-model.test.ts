/**
 * Random operation sequences against the in-memory backend with a manual
 * clock (seeded, so every failure replays). After every step: at most one
 * writer or mutex holder, never a writer beside readers, never more permits
 * than the semaphore has, tokens strictly increasing per namespace, and —
 * the point of the loss margin — a handle that says it is held is held in
 * the store.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type LeaseKind,
  LockClient,
  type LockHandle,
  ManualClock,
  MemoryLockBackend,
  MemoryLockStore,
} from "../../src/lock/index.js";

const PERMITS = 2;
const NAME = "resource";

type Command =
  | {
      op: "acquire";
      client: number;
      kind: Exclude<LeaseKind, "leader">;
      autoRenew: boolean;
      ttlMs: number;
    }
  | { op: "release"; pick: number }
  | { op: "advance"; ms: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("acquire" as const),
      client: fc.nat(3),
      kind: fc.constantFrom(
        "mutex" as const,
        "read" as const,
        "write" as const,
        "semaphore" as const,
      ),
      autoRenew: fc.boolean(),
      ttlMs: fc.integer({ min: 50, max: 400 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("release" as const), pick: fc.nat(20) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("advance" as const),
      ms: fc.integer({ min: 0, max: 300 }),
    }),
  },
);

describe("in-memory backend under random operations", () => {
  it("keeps exclusion, fencing and held-means-held for every sequence", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), async (commands) => {
        const clock = new ManualClock();
        const store = new MemoryLockStore({ clock });
        const clients = Array.from(
          { length: 4 },
          () => new LockClient(new MemoryLockBackend({ store })),
        );
        const handles: LockHandle<bigint>[] = [];
        const lastToken = new Map<string, bigint>();
        for (const c of commands) {
          if (c.op === "advance") await clock.advance(c.ms);
          else if (c.op === "release") {
            const handle = handles.splice(c.pick % Math.max(1, handles.length), 1)[0];
            await handle?.release().catch(() => {});
          } else {
            const client = clients[c.client]!;
            const options = { ttlMs: c.ttlMs, autoRenew: c.autoRenew };
            const handle =
              c.kind === "mutex"
                ? await client.tryAcquire(NAME, options)
                : c.kind === "semaphore"
                  ? await client.semaphore(NAME, { permits: PERMITS }).tryAcquire(options)
                  : c.kind === "read"
                    ? await client.readWriteLock(NAME).tryAcquireRead(options)
                    : await client.readWriteLock(NAME).tryAcquireWrite(options);
            if (handle !== undefined) {
              const namespace = c.kind === "read" || c.kind === "write" ? "rw" : c.kind;
              const previous = lastToken.get(namespace);
              if (previous !== undefined) expect(handle.fencingToken > previous).toBe(true);
              lastToken.set(namespace, handle.fencingToken);
              handles.push(handle);
            }
          }
          const held = handles.filter((h) => h.held);
          const count = (kind: LeaseKind) => held.filter((h) => h.kind === kind).length;
          expect(count("mutex")).toBeLessThanOrEqual(1);
          expect(count("write")).toBeLessThanOrEqual(1);
          if (count("write") === 1) expect(count("read")).toBe(0);
          expect(count("semaphore")).toBeLessThanOrEqual(PERMITS);
          for (const h of held) {
            const ownerId = (h as unknown as { ownerId: string }).ownerId;
            expect(store.holder(h.kind, NAME, ownerId)).toBeDefined();
          }
        }
        await Promise.all(clients.map((c) => c.destroy()));
      }),
      { seed: 424_242, numRuns: 200 },
    );
  });
});
