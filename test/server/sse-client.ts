import { parseSse, type SseMessage } from "../../src/client/sse.js";

export interface OpenWatch {
  /** The next message, or undefined when the stream ended; fails after `timeoutMs`. */
  next(timeoutMs?: number): Promise<SseMessage | undefined>;
  /** Messages until the stream ends. */
  rest(timeoutMs?: number): Promise<SseMessage[]>;
  close(): void;
}

/** POSTs a watch body over real HTTP and reads the event stream. */
export async function openWatch(
  baseUrl: string,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): Promise<{ status: number; json?: { code: string }; stream?: OpenWatch }> {
  const controller = new AbortController();
  const res = await fetch(`${baseUrl}/v3/watch`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  if (res.status !== 200 || res.body === null) {
    return { status: res.status, json: (await res.json()) as { code: string } };
  }
  const messages = parseSse(res.body)[Symbol.asyncIterator]();
  const next = async (timeoutMs = 5000) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no watch message in time")), timeoutMs);
    });
    try {
      const r = await Promise.race([messages.next(), timeout]);
      return r.done ? undefined : r.value;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    status: 200,
    stream: {
      next,
      async rest(timeoutMs = 5000) {
        const all: SseMessage[] = [];
        for (let m = await next(timeoutMs); m !== undefined; m = await next(timeoutMs)) all.push(m);
        return all;
      },
      close: () => controller.abort(),
    },
  };
}

export interface EventJson {
  type: "PUT" | "DELETE";
  kv: { key: string; value: string; mod_revision: string; version: string };
  prev_kv?: { value: string };
}

export function eventsOf(m: SseMessage): { revision: number; events: EventJson[] } {
  const data = JSON.parse(m.data) as { header: { revision: string }; events: EventJson[] };
  return { revision: Number(data.header.revision), events: data.events };
}
