/** POST /v3/shard/watch over real HTTP, its event stream read message by message. */
import { parseSse, type SseMessage } from "../../src/client/sse.js";

export interface ShardWatchReply {
  readonly status: number;
  /** The JSON error answered instead of a stream. */
  readonly json?: Record<string, unknown>;
  readonly stream?: OpenShardWatch;
}

export interface OpenShardWatch {
  /** The next message, or undefined when the stream ended; fails after `timeoutMs`. */
  next(timeoutMs?: number): Promise<SseMessage | undefined>;
  /** The next message that is not a `progress` notice. */
  nextEvent(timeoutMs?: number): Promise<SseMessage | undefined>;
  close(): void;
}

export async function openShardWatch(baseUrl: string, body: unknown): Promise<ShardWatchReply> {
  return openShardWatchRaw(baseUrl, JSON.stringify(body));
}

export async function openShardWatchRaw(baseUrl: string, raw: string): Promise<ShardWatchReply> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("no answer in 10 s")), 10_000);
  const res = await fetch(`${baseUrl}/v3/shard/watch`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw,
    signal: controller.signal,
  });
  clearTimeout(timer);
  if (res.status !== 200 || res.body === null) {
    const text = await res.text();
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = { unparsed: text };
    }
    return { status: res.status, json };
  }
  const messages = parseSse(res.body)[Symbol.asyncIterator]();
  const next = async (timeoutMs = 5000) => {
    let wait: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      wait = setTimeout(() => reject(new Error("no watch message in time")), timeoutMs);
    });
    try {
      const r = await Promise.race([messages.next(), timeout]);
      return r.done ? undefined : r.value;
    } finally {
      clearTimeout(wait);
    }
  };
  return {
    status: 200,
    stream: {
      next,
      async nextEvent(timeoutMs = 5000) {
        for (;;) {
          const m = await next(timeoutMs);
          if (m?.event !== "progress") return m;
        }
      },
      close: () => controller.abort(),
    },
  };
}

export function dataOf(m: SseMessage | undefined): Record<string, unknown> {
  if (m === undefined) throw new Error("the stream ended");
  return JSON.parse(m.data) as Record<string, unknown>;
}

export function headerOf(m: SseMessage | undefined): Record<string, unknown> {
  return dataOf(m)["header"] as Record<string, unknown>;
}
