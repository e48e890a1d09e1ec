import { once } from "node:events";
import net from "node:net";

/**
 * A watch opened over a bare socket that reads nothing until asked: the
 * kernel's buffers fill and then the server's, as with a client that stalled.
 */
export interface RawWatch {
  readonly socket: net.Socket;
  /** Reads everything until the server closes the connection; fails after `timeoutMs`. */
  readToEnd(timeoutMs?: number): Promise<string>;
  /** As readToEnd, keeping only the last `keepBytes` (for streams of many megabytes). */
  readTail(keepBytes: number, timeoutMs?: number): Promise<string>;
}

export async function openRawWatch(
  port: number,
  body: unknown,
  localAddress = "127.0.0.1",
): Promise<RawWatch> {
  const socket = net.connect({ port, host: "127.0.0.1", localAddress });
  await once(socket, "connect");
  const json = JSON.stringify(body);
  socket.write(
    `POST /v3/watch HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
  );
  const read = async (keepBytes: number, timeoutMs: number): Promise<string> => {
    const chunks: Buffer[] = [];
    let kept = 0;
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      kept += c.byteLength;
      while (kept - chunks[0]!.byteLength >= keepBytes) kept -= chunks.shift()!.byteLength;
    });
    const timer = setTimeout(
      () => socket.destroy(new Error("the stream did not end in time")),
      timeoutMs,
    );
    try {
      if (!socket.destroyed) await once(socket, "close");
    } finally {
      clearTimeout(timer);
    }
    if (socket.errored !== null) throw socket.errored;
    return Buffer.concat(chunks).toString();
  };
  return {
    socket,
    readToEnd: (timeoutMs = 10_000) => read(Number.POSITIVE_INFINITY, timeoutMs),
    readTail: (keepBytes, timeoutMs = 10_000) => read(keepBytes, timeoutMs),
  };
}

/** The code of the last `error` message in (the tail of) a stream, if any. */
export function lastErrorCode(raw: string): string | undefined {
  const errors = [...raw.matchAll(/event: error\ndata: (\{.*\})\n\n/g)];
  const last = errors.at(-1)?.[1];
  return last === undefined ? undefined : (JSON.parse(last) as { code: string }).code;
}

/** The SSE messages of a raw HTTP/1.1 chunked response, in order (chunk framing removed). */
export function sseMessages(raw: string): { event: string; data: string }[] {
  const bodyStart = raw.indexOf("\r\n\r\n");
  const body = dechunk(raw.slice(bodyStart + 4));
  const out: { event: string; data: string }[] = [];
  for (const block of body.split("\n\n")) {
    const event = /^event: (.*)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (event !== undefined && data !== undefined) out.push({ event, data });
  }
  return out;
}

function dechunk(chunked: string): string {
  let out = "";
  let at = 0;
  for (;;) {
    const eol = chunked.indexOf("\r\n", at);
    if (eol < 0) return out;
    const size = Number.parseInt(chunked.slice(at, eol), 16);
    if (!Number.isFinite(size) || size === 0) return out;
    out += chunked.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}
