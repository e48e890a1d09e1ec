import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../../src/errors.js";
import { decodeNodeSnapshot, encodeNodeSnapshot } from "../../../src/raft/node/snapshot-codec.js";

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += size) yield bytes.subarray(i, i + size);
}

async function gather(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

describe("node snapshot stream", () => {
  it("round-trips the address book and the application bytes, whatever the chunking", async () => {
    const peers = new Map([
      [1, "127.0.0.1:7001"],
      [2, "[::1]:7002"],
    ]);
    const app = Buffer.from("application state ".repeat(1000));
    const encoded = await gather(encodeNodeSnapshot(peers, chunked(app, 777)));
    for (const size of [1, 3, 64, 100_000]) {
      const { peers: p, app: rest } = await decodeNodeSnapshot(chunked(encoded, size));
      expect(p).toEqual(peers);
      expect((await gather(rest)).equals(app)).toBe(true);
    }
  });

  it("reads an empty stream as an empty state", async () => {
    const { peers, app } = await decodeNodeSnapshot(chunked(new Uint8Array(0), 1));
    expect(peers.size).toBe(0);
    expect((await gather(app)).byteLength).toBe(0);
  });

  it("rejects truncated or malformed headers with InvalidArgumentError", async () => {
    const good = await gather(encodeNodeSnapshot(new Map([[1, "a:1"]]), new Uint8Array(0)));
    await expect(decodeNodeSnapshot(chunked(good.subarray(0, 2), 1))).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(
      decodeNodeSnapshot(chunked(good.subarray(0, good.byteLength - 1), 4)),
    ).rejects.toThrow(/overruns/);
    const bad = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from("{x}")]);
    await expect(decodeNodeSnapshot(chunked(bad, 2))).rejects.toThrow(/not valid JSON/);
    const wrongVersion = Buffer.from(JSON.stringify({ v: 2, peers: [] }));
    const framed = Buffer.concat([Buffer.from([0, 0, 0, wrongVersion.byteLength]), wrongVersion]);
    await expect(decodeNodeSnapshot(chunked(framed, 5))).rejects.toThrow(/unknown version/);
  });
});
