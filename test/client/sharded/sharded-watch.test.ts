/**
 * ShardWatchStream's merge and resume logic against scripted streams: the
 * test decides every message each shard's stream carries and when it ends,
 * and reads what the watch hands over. No timers are waited on: retries
 * wait 0 ms and every step awaits the event it needs.
 */
import { describe, expect, it } from "vitest";
import {
  ClientClosedError,
  ClientError,
  CompactedError,
  UnavailableError,
} from "../../../src/client/errors.js";
import type { Json } from "../../../src/client/json-read.js";
import { ShardedClient } from "../../../src/client/sharded/index.js";
import {
  type OpenShardStream,
  type ShardWatchBatch,
  type ShardWatchOptions,
  ShardWatchStream,
} from "../../../src/client/sharded/watch.js";
import { HandOff } from "../../../src/client/sharded/watch-merge.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/** One scripted stream: the test sends messages into it and ends or breaks it. */
class ScriptedStream implements OpenShardStream {
  closed = false;
  private readonly chunks: (Uint8Array | Error | null)[] = [];
  private wake: (() => void) | undefined;

  constructor(
    readonly shard: number,
    readonly endpoint: string,
    readonly request: Record<string, unknown>,
    readonly avoid: string | undefined,
  ) {}

  readonly body: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        for (;;) {
          if (this.closed) return { done: true, value: undefined };
          const chunk = this.chunks.shift();
          if (chunk === null) return { done: true, value: undefined };
          if (chunk instanceof Error) throw chunk;
          if (chunk !== undefined) return { done: false, value: chunk };
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
        }
      },
    }),
  };

  /** Where this stream was asked to start (0: now). */
  get startRevision(): number {
    return Number(this.request["start_revision"] ?? 0);
  }

  send(event: string, data: object): this {
    return this.push(
      new TextEncoder().encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
    );
  }

  created(revision: number): this {
    return this.send("created", { header: { revision: String(revision), shard: this.shard } });
  }

  events(revision: number, ...keys: string[]): this {
    return this.send("events", {
      header: { revision: String(revision) },
      events: keys.map((k) => ({
        type: "PUT",
        kv: { key: b64(k), mod_revision: String(revision), value: b64("v") },
      })),
    });
  }

  progress(revision: number): this {
    return this.send("progress", { header: { revision: String(revision) } });
  }

  error(code: string, extra: object = {}): this {
    return this.send("error", { code, message: `${code} from the script`, ...extra });
  }

  /** The server ends the response. */
  end(): this {
    return this.push(null);
  }

  /** The connection breaks. */
  break(): this {
    return this.push(new Error("socket hang up"));
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  private push(chunk: Uint8Array | Error | null): this {
    this.chunks.push(chunk);
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
    return this;
  }
}

type OpenOutcome = { fail: unknown } | undefined;

/** The watch's client side, scripted: shards, opens (some failing), losses and retries recorded. */
class ScriptedPort {
  readonly opened: ScriptedStream[] = [];
  readonly lost: [number, string][] = [];
  readonly retries: number[] = [];
  /** Scripted failures of the next opens, per shard, in order. */
  readonly failures = new Map<number, unknown[]>();
  private readonly waiters: { count: number; resolve: () => void }[] = [];
  private nextEndpoint = 1;

  constructor(
    private readonly shardList: readonly number[],
    private readonly count = 4,
  ) {}

  port() {
    return {
      shards: async () => this.shardList,
      shardCount: () => this.count,
      open: async (
        shard: number,
        body: Json,
        _signal: AbortSignal,
        avoid: string | undefined,
      ): Promise<OpenShardStream> => {
        const outcome: OpenOutcome = this.failures.get(shard)?.length
          ? { fail: this.failures.get(shard)!.shift() }
          : undefined;
        if (outcome !== undefined) throw outcome.fail;
        const stream = new ScriptedStream(
          shard,
          `http://node${this.nextEndpoint++}`,
          body as Record<string, unknown>,
          avoid,
        );
        this.opened.push(stream);
        for (const w of [...this.waiters]) {
          if (this.opened.length >= w.count) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve();
          }
        }
        return stream;
      },
      lost: (shard: number, endpoint: string) => {
        this.lost.push([shard, endpoint]);
      },
      retryDelayMs: (retry: number) => {
        this.retries.push(retry);
        return 0;
      },
    };
  }

  /** The `n`th stream opened (1-based), once it is. */
  async stream(n: number): Promise<ScriptedStream> {
    if (this.opened.length < n) {
      await new Promise<void>((resolve) => this.waiters.push({ count: n, resolve }));
    }
    return this.opened[n - 1]!;
  }

  /** The latest stream of `shard` after `n` streams were opened in all. */
  async latest(shard: number, n: number): Promise<ScriptedStream> {
    await this.stream(n);
    return this.opened.filter((s) => s.shard === shard).at(-1)!;
  }
}

function watch(
  shards: readonly number[],
  options: ShardWatchOptions = {},
): { port: ScriptedPort; w: ShardWatchStream } {
  const port = new ScriptedPort(shards);
  const w = new ShardWatchStream(port.port(), "k/", { prefix: true, ...options });
  return { port, w };
}

async function take(w: ShardWatchStream): Promise<ShardWatchBatch> {
  const r = await w.next();
  if (r.done) throw new Error("the watch ended");
  return r.value;
}

const summary = (b: ShardWatchBatch) => [b.shard, b.revision, b.events.map((e) => e.kv.keyString)];

describe("ShardWatchStream: merging shards", () => {
  it("opens one stream per shard and hands over each batch with its shard and that shard's revision", async () => {
    const { port, w } = watch([1, 2]);
    const [s1, s2] = [await port.stream(1), await port.stream(2)];
    expect([s1.shard, s2.shard]).toEqual([1, 2]);
    expect(s1.request).toMatchObject({ key: b64("k/"), range_end: b64("k0") });
    expect(s1.startRevision).toBe(0);
    s1.created(10);
    s2.created(3);
    expect([...(await w.ready)]).toEqual([
      [1, 10],
      [2, 3],
    ]);
    s1.events(11, "k/a").events(12, "k/b");
    s2.events(4, "k/c");
    const got = [await take(w), await take(w), await take(w)];
    // No order across shards; within each, revision order.
    expect(got.filter((b) => b.shard === 1).map(summary)).toEqual([
      [1, 11, ["k/a"]],
      [1, 12, ["k/b"]],
    ]);
    expect(got.filter((b) => b.shard === 2).map(summary)).toEqual([[2, 4, ["k/c"]]]);
    expect([...w.resumeRevisions]).toEqual([
      [1, 13],
      [2, 5],
    ]);
    w.cancel();
  });

  it("a shard waits for the consumer: at most one batch per shard is held", async () => {
    const { port, w } = watch([1]);
    const s1 = await port.stream(1);
    s1.created(1).events(2, "k/a").events(3, "k/b").events(4, "k/c");
    expect(summary(await take(w))).toEqual([1, 2, ["k/a"]]);
    // Not taken yet: revision 3 is offered, 4 not read from the stream.
    expect([...w.resumeRevisions]).toEqual([[1, 3]]);
    expect(summary(await take(w))).toEqual([1, 3, ["k/b"]]);
    expect(summary(await take(w))).toEqual([1, 4, ["k/c"]]);
    w.cancel();
  });

  it("cancel closes every stream and ends the iteration; a pending next() resolves done", async () => {
    const { port, w } = watch([1, 2, 3]);
    const streams = [await port.stream(1), await port.stream(2), await port.stream(3)];
    const pending = w.next();
    w.cancel();
    expect(await pending).toEqual({ done: true, value: undefined });
    await expect.poll(() => streams.every((s) => s.closed)).toBe(true);
    expect(await w.next()).toEqual({ done: true, value: undefined });
    await expect(w.ready).rejects.toThrow();
  });

  it("the caller's signal cancels it", async () => {
    const abort = new AbortController();
    const { port, w } = watch([1], { signal: abort.signal });
    const s1 = await port.stream(1);
    abort.abort();
    expect(await w.next()).toEqual({ done: true, value: undefined });
    await expect.poll(() => s1.closed).toBe(true);
  });
});

describe("ShardWatchStream: resuming a shard", () => {
  it("after REPLICA_CLOSED it asks where the shard went and resumes elsewhere from the last delivered + 1", async () => {
    const { port, w } = watch([1, 2]);
    const [s1, s2] = [await port.stream(1), await port.stream(2)];
    s1.created(10).events(11, "k/a");
    s2.created(5);
    expect(summary(await take(w))).toEqual([1, 11, ["k/a"]]);
    s1.error("REPLICA_CLOSED", { shard: 1 });
    const again = await port.stream(3);
    expect(again.shard).toBe(1);
    expect(again.startRevision).toBe(12);
    expect(again.avoid).toBe(s1.endpoint);
    expect(port.lost).toEqual([[1, s1.endpoint]]);
    expect(s1.closed).toBe(true);
    // A replica that replays what was delivered (it was asked from 12; this is defensive).
    again.created(11).events(11, "k/a").events(12, "k/b");
    expect(summary(await take(w))).toEqual([1, 12, ["k/b"]]);
    // The other shard's stream was never touched.
    expect(s2.closed).toBe(false);
    s2.events(6, "k/z");
    expect(summary(await take(w))).toEqual([2, 6, ["k/z"]]);
    w.cancel();
  });

  it("a stream silent past idleTimeoutMs (its server cut off, the connection open) is resumed elsewhere", async () => {
    const { port, w } = watch([1], { idleTimeoutMs: 30 });
    const s1 = await port.stream(1);
    s1.created(10).events(11, "k/a");
    expect(summary(await take(w))).toEqual([1, 11, ["k/a"]]);
    // Nothing more arrives on s1, not even a ping: only the idle timeout can end it.
    const again = await port.stream(2);
    expect(again.shard).toBe(1);
    expect(again.startRevision).toBe(12);
    expect(again.avoid).toBe(s1.endpoint);
    expect(s1.closed).toBe(true);
    again.created(11).events(12, "k/b");
    expect(summary(await take(w))).toEqual([1, 12, ["k/b"]]);
    w.cancel();
  });

  it("a stream that broke before any event resumes after the revision its created named, not from now", async () => {
    const { port, w } = watch([1]);
    const first = await port.stream(1);
    first.created(40);
    await w.ready;
    first.break();
    const second = await port.stream(2);
    expect(second.startRevision).toBe(41);
    // A replica behind the first one: it starts at its own revision, the watch keeps its place.
    second.created(38).events(41, "k/x");
    expect(summary(await take(w))).toEqual([1, 41, ["k/x"]]);
    second.end();
    const third = await port.stream(3);
    expect(third.startRevision).toBe(42);
    w.cancel();
  });

  it.each(["WATCH_TOO_SLOW", "SERVER_CLOSING", "NODE_STOPPED", "NO_LEADER"])(
    "%s ends only that stream",
    async (code) => {
      const { port, w } = watch([1]);
      const first = await port.stream(1);
      first.created(1).events(2, "k/a");
      await take(w);
      first.error(code);
      expect((await port.stream(2)).startRevision).toBe(3);
      w.cancel();
    },
  );

  it("progress notices move the resume point and are handed over only when asked for", async () => {
    const quiet = watch([1]);
    const q1 = await quiet.port.stream(1);
    q1.created(1).progress(9).events(10, "k/a");
    expect(summary(await take(quiet.w))).toEqual([1, 10, ["k/a"]]);
    quiet.w.cancel();

    const { port, w } = watch([1], { progressNotify: true });
    const s1 = await port.stream(1);
    expect(s1.request["progress_notify"]).toBe(true);
    s1.created(1).progress(7);
    expect(await take(w)).toEqual({ shard: 1, revision: 7, events: [], progress: true });
    s1.break();
    expect((await port.stream(2)).startRevision).toBe(8);
    w.cancel();
  });

  it("a failing open is retried with a growing backoff that starts over once a stream delivers", async () => {
    const { port, w } = watch([1]);
    port.failures.set(1, [
      new UnavailableError("node down"),
      new ClientError("WRONG_SHARD", "moved", 421),
      new ClientError("NOT_READY", "starting", 503),
    ]);
    const s1 = await port.stream(1);
    expect(port.retries).toEqual([0, 1, 2]);
    s1.created(3).events(4, "k/a");
    await take(w);
    s1.break();
    await port.stream(2);
    expect(port.retries).toEqual([0, 1, 2, 0]);
    w.cancel();
  });

  it("per-shard start revisions: a shard named starts there, the others at their current revision", async () => {
    const { port, w } = watch([1, 2], { startRevision: new Map([[2, 5]]) });
    const [s1, s2] = [await port.stream(1), await port.stream(2)];
    expect([s1.startRevision, s2.startRevision]).toEqual([0, 5]);
    s1.created(20);
    s2.created(30);
    expect([...(await w.ready)]).toEqual([
      [1, 20],
      [2, 4],
    ]);
    w.cancel();
    const one = watch([1, 2], { startRevision: 3 });
    expect((await one.port.stream(1)).startRevision).toBe(3);
    expect((await one.port.stream(2)).startRevision).toBe(3);
    one.w.cancel();
  });
});

describe("ShardWatchStream: what ends it", () => {
  it("a compacted resume point ends the watch with CompactedError, after what was handed over", async () => {
    const { port, w } = watch([1, 2]);
    const [s1, s2] = [await port.stream(1), await port.stream(2)];
    s1.created(1).events(2, "k/a");
    s2.created(1).error("KV_COMPACTED", { compact_revision: "9", shard: 2 });
    expect(summary(await take(w))).toEqual([1, 2, ["k/a"]]);
    const error = await w.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CompactedError);
    expect((error as CompactedError).compactRevision).toBe(9);
    await expect.poll(() => s1.closed && s2.closed).toBe(true);
    expect(await w.next()).toEqual({ done: true, value: undefined });
  });

  it("an open refused for good (400) ends the watch with that error", async () => {
    const { port, w } = watch([1]);
    port.failures.set(1, [new ClientError("INVALID_ARGUMENT", "bad key", 400)]);
    await expect(w.next()).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(w.ready).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("a malformed message ends the watch", async () => {
    const { port, w } = watch([1]);
    (await port.stream(1)).created(1).send("events", { header: { revision: "x" } });
    await expect(w.next()).rejects.toBeInstanceOf(ClientError);
  });

  it("bad options are refused at the call", () => {
    const port = new ScriptedPort([1]).port();
    expect(() => new ShardWatchStream(port, "k", { startRevision: -1 })).toThrow(/startRevision/);
    expect(() => new ShardWatchStream(port, "k", { startRevision: new Map([[1, 1.5]]) })).toThrow(
      /startRevision/,
    );
    expect(() => new ShardWatchStream(port, "k", { idleTimeoutMs: 0 })).toThrow(/idleTimeoutMs/);
    expect(() => new ShardWatchStream(port, "k", { idleTimeoutMs: Number.NaN })).toThrow(
      /idleTimeoutMs/,
    );
  });

  it("a start revision for a shard that does not exist ends the watch", async () => {
    const { w } = watch([1, 2], { startRevision: new Map([[9, 1]]) });
    await expect(w.next()).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

describe("HandOff", () => {
  it("an offer resolves when taken, in the order offered", async () => {
    const h = new HandOff<number>();
    const taken: number[] = [];
    const a = h.offer(1).then((ok) => ok && taken.push(1));
    const b = h.offer(2).then((ok) => ok && taken.push(2));
    expect(h.length).toBe(2);
    expect(await h.take()).toEqual({ done: false, value: 1 });
    await a;
    expect(taken).toEqual([1]);
    expect(await h.take()).toEqual({ done: false, value: 2 });
    await b;
    expect(taken).toEqual([1, 2]);
  });

  it("a waiting reader takes the next offer at once", async () => {
    const h = new HandOff<string>();
    const reading = h.take();
    expect(await h.offer("x")).toBe(true);
    expect(await reading).toEqual({ done: false, value: "x" });
  });

  it("fail: what was offered first, then the error once, then done", async () => {
    const h = new HandOff<number>();
    const offered = h.offer(1);
    h.fail(new Error("boom"));
    expect(await h.offer(2)).toBe(false);
    expect(await h.take()).toEqual({ done: false, value: 1 });
    expect(await offered).toBe(true);
    await expect(h.take()).rejects.toThrow("boom");
    expect(await h.take()).toEqual({ done: true, value: undefined });
  });

  it("fail with a reader waiting rejects it", async () => {
    const h = new HandOff<number>();
    const reading = h.take();
    h.fail(new Error("boom"));
    await expect(reading).rejects.toThrow("boom");
    expect(await h.take()).toEqual({ done: true, value: undefined });
  });

  it("close drops what was offered and ends every reader", async () => {
    const h = new HandOff<number>();
    const offered = h.offer(1);
    h.close();
    expect(await offered).toBe(false);
    expect(await h.take()).toEqual({ done: true, value: undefined });
  });
});

describe("ShardedClient.watch", () => {
  it("with a signal already aborted: a watch that is over, nothing sent", async () => {
    const client = new ShardedClient({ endpoints: ["http://127.0.0.1:9"] });
    const w = client.watch("k", { signal: AbortSignal.abort() });
    expect(await w.next()).toEqual({ done: true, value: undefined });
    await expect(w.ready).rejects.toBeInstanceOf(ClientClosedError);
    client.close();
  });

  it("close() ends every open watch; later calls are refused", async () => {
    const client = new ShardedClient({ endpoints: ["http://127.0.0.1:9"], requestTimeoutMs: 50 });
    const a = client.watch("k", { prefix: true });
    const b = client.watch("j");
    client.close();
    expect(await a.next()).toEqual({ done: true, value: undefined });
    expect(await b.next()).toEqual({ done: true, value: undefined });
    expect(() => client.watch("k")).toThrow(ClientClosedError);
  });
});
