import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { KvStore, utf8 } from "../../src/kv/index.js";

async function bytesOf(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

function storeWith(keys: number): KvStore {
  const store = new KvStore();
  for (let i = 0; i < keys; i++) {
    const r = store.apply(i + 1, { type: "put", key: utf8(`k${i}`), value: utf8("v".repeat(i)) });
    if (r.type === "error") throw r.error;
  }
  return store;
}

describe("snapshot streams with etcd's SHA-256 trailer", () => {
  it.each([0, 1, 37, 300])("ends %i keys as etcd does and still restores", async (keys) => {
    const store = storeWith(keys);
    const bytes = await bytesOf(store.snapshot({ sha256Trailer: true }));
    // etcdctl's test: whole 512-byte blocks, then the digest of all of them.
    expect(bytes.length % 512).toBe(32);
    const body = bytes.subarray(0, bytes.length - 32);
    expect(bytes.subarray(bytes.length - 32)).toEqual(createHash("sha256").update(body).digest());

    const copy = new KvStore();
    await copy.restore(
      (async function* () {
        yield new Uint8Array(bytes);
      })(),
    );
    expect(copy.revision).toBe(store.revision);
    expect(copy.keyCount).toBe(keys);
    expect(await bytesOf(copy.snapshot())).toEqual(await bytesOf(store.snapshot()));
  });

  it("adds only a padding frame and the digest to the plain stream", async () => {
    const store = storeWith(5);
    const plain = await bytesOf(store.snapshot());
    const etcd = await bytesOf(store.snapshot({ sha256Trailer: true }));
    // Frames are a u32 length and a body: find where the plain stream's end frame starts.
    let offset = 0;
    let lastFrame = 0;
    while (offset < plain.length) {
      lastFrame = offset;
      offset += 4 + plain.readUInt32BE(offset);
    }
    expect(offset).toBe(plain.length);
    expect(etcd.subarray(0, lastFrame)).toEqual(plain.subarray(0, lastFrame));
    expect(etcd.length - plain.length).toBeLessThan(512 + 64);
  });
});
