import { afterEach, describe, expect, it } from "vitest";
import { ClientError, ConclaveClient, seededRandom } from "../../src/client/index.js";
import { parseSse } from "../../src/client/sse.js";
import { type FakeServer, fakeServer, type Responder } from "./fake-server.js";

const servers: FakeServer[] = [];
const clients: ConclaveClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const kv = (rev: number) => ({
  key: Buffer.from("k").toString("base64"),
  value: Buffer.from(`v${rev}`).toString("base64"),
  create_revision: "2",
  mod_revision: String(rev),
  version: "1",
  lease: "0",
});
const created = (rev: number) => `event: created\ndata: {"header":{"revision":"${rev}"}}\n\n`;
const events = (rev: number) =>
  `event: events\nid: ${rev}\ndata: ${JSON.stringify({ header: { revision: String(rev) }, events: [{ type: "PUT", kv: kv(rev) }] })}\n\n`;
const error = (code: string) => `event: error\ndata: {"code":"${code}","message":"m"}\n\n`;

const stream =
  (...parts: string[]): Responder =>
  (res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.end(parts.join(""));
  };

async function watchOf(script: Responder[]) {
  const s = await fakeServer(script);
  servers.push(s);
  const c = new ConclaveClient({ endpoints: [s.url], random: seededRandom(3) });
  clients.push(c);
  return { s, watch: c.watch("k") };
}

async function revisions(watch: AsyncIterator<{ revision: number }>, n: number) {
  const out: number[] = [];
  while (out.length < n) {
    const r = await watch.next();
    if (r.done) break;
    out.push(r.value.revision);
  }
  return out;
}

describe("watch resume", () => {
  it("gives up a stream silent past idleTimeoutMs and resumes from the last revision + 1", async () => {
    const s = await fakeServer([
      // Sends two events, then nothing: the connection stays open.
      (res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(created(4) + events(5) + events(6));
      },
      stream(created(6), events(7)),
    ]);
    servers.push(s);
    const c = new ConclaveClient({ endpoints: [s.url], random: seededRandom(3) });
    clients.push(c);
    const watch = c.watch("k", { idleTimeoutMs: 50 });
    expect(await revisions(watch, 3)).toEqual([5, 6, 7]);
    const bodies = s.seen.map((r) => r.body as { start_revision?: number });
    expect(bodies[1]?.start_revision).toBe(7);
    await watch.return();
  });

  it("resumes after WATCH_TOO_SLOW from the last revision + 1, skipping repeats", async () => {
    const { s, watch } = await watchOf([
      stream(created(4), events(5), events(6), error("WATCH_TOO_SLOW")),
      // A server that replays one revision too many: the client drops the repeat.
      stream(created(6), events(6), events(7)),
      stream(created(7), events(8)),
    ]);
    expect(await revisions(watch, 4)).toEqual([5, 6, 7, 8]);
    const bodies = s.seen.map((r) => r.body as { start_revision?: number });
    expect(bodies[0]!.start_revision).toBeUndefined();
    expect(bodies[1]!.start_revision).toBe(7);
    // The stream that ended without an error (server gone) resumes too.
    expect(bodies[2]!.start_revision).toBe(8);
    await watch.return();
  });

  it("resumes from after the created revision when nothing was delivered yet", async () => {
    const { s, watch } = await watchOf([stream(created(10)), stream(created(10), events(11))]);
    expect(await revisions(watch, 1)).toEqual([11]);
    expect((s.seen[1]!.body as { start_revision?: number }).start_revision).toBe(11);
    await watch.return();
  });

  it("ends with the server's error for a code no retry can fix", async () => {
    const { watch } = await watchOf([stream(created(1), error("KV_INVALID_COMMAND"))]);
    const e = await watch.next().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ClientError);
    expect((e as ClientError).code).toBe("KV_INVALID_COMMAND");
  });
});

describe("parseSse", () => {
  it("parses messages split anywhere, with CRLF or LF, ignoring comments", async () => {
    const text =
      ": ping\r\n\r\nevent: a\r\nid: 1\r\ndata: x\r\ndata: y\r\n\r\nevent: b\ndata: z\n\n";
    const bytes = new TextEncoder().encode(text);
    for (const size of [1, 2, 3, 7, bytes.length]) {
      async function* chunks() {
        for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
      }
      const got = [];
      for await (const m of parseSse(chunks())) got.push(m);
      expect(got, `chunk size ${size}`).toEqual([
        { event: "a", data: "x\ny", id: "1" },
        { event: "b", data: "z", id: undefined },
      ]);
    }
  });
});
