import { once } from "node:events";
import { createReadStream } from "node:fs";
import { mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { JsonObject } from "./bridge.js";
import { authorizeCall } from "./call-auth.js";
import type { GrpcContext } from "./context.js";
import { grpcError } from "./unary.js";

/** Blob bytes per SnapshotResponse: etcd's clients take any size; gRPC's default cap is 4 MiB. */
export const SNAPSHOT_CHUNK_BYTES = 64 * 1024;

/**
 * Writes this member's store snapshot to a private temporary file and
 * resolves with its path and size. Spooled rather than sent as it is
 * encoded: the size is then known, so every message says how many bytes
 * remain (etcd's remaining_bytes), and the store's view (which holds
 * compaction back) is released at disk speed rather than at the pace of a
 * slow client.
 */
async function spoolSnapshot(
  ctx: GrpcContext,
  dir: string,
): Promise<{ path: string; bytes: number; revision: number }> {
  const path = join(dir, "snapshot");
  const revision = ctx.kv.store.revision;
  const file = await open(path, "wx", 0o600);
  try {
    for await (const chunk of ctx.kv.store.snapshot({ sha256Trailer: true })) {
      await file.write(chunk);
    }
  } finally {
    await file.close();
  }
  return { path, bytes: (await stat(path)).size, revision };
}

/**
 * etcd's Snapshot call: this member's key space (Conclave's snapshot format,
 * ended with etcd's SHA-256 trailer, which etcdctl's `snapshot save` checks
 * for) as a stream of SnapshotResponse messages of at most
 * SNAPSHOT_CHUNK_BYTES each. Root only. The first message carries the
 * response header, at the snapshot's revision. etcd's tools cannot read the
 * file further (`snapshot status` and `restore` expect a bolt database);
 * `conclave snapshot restore` and KvStore.restore can.
 */
export async function serveSnapshot(
  ctx: GrpcContext,
  call: ServerWritableStream<JsonObject, JsonObject>,
): Promise<void> {
  let dir: string | undefined;
  // A client that goes away mid-stream stops the wait for room to write.
  const gone = new AbortController();
  call.once("cancelled", () => gone.abort());
  try {
    await authorizeCall(ctx.kv, call.metadata, "root");
    const status = await ctx.bridge.post("/v3/maintenance/status", {}, call);
    dir = await mkdtemp(join(tmpdir(), "conclave-snapshot-"));
    const spooled = await spoolSnapshot(ctx, dir);
    const header = { ...(status["header"] as JsonObject), revision: String(spooled.revision) };
    let remaining = spooled.bytes;
    let first = true;
    const send = async (blob: Buffer): Promise<void> => {
      remaining -= blob.length;
      const message: JsonObject = {
        ...(first && { header }),
        remaining_bytes: String(remaining),
        // Bytes as they are: the encoder takes a buffer as well as base64 text.
        blob,
      };
      first = false;
      if (!call.write(message)) await once(call, "drain", { signal: gone.signal });
    };
    const input = createReadStream(spooled.path, { highWaterMark: SNAPSHOT_CHUNK_BYTES });
    try {
      for await (const chunk of input) {
        if (call.cancelled) return;
        await send(chunk as Buffer);
      }
    } finally {
      input.destroy();
    }
    // An empty store still answers once, so the client sees the header and the end.
    if (first) await send(Buffer.alloc(0));
    call.end();
  } catch (err) {
    // grpc-js ends a server stream with the status an "error" event carries.
    if (!call.cancelled) call.emit("error", grpcError(err));
  } finally {
    if (dir !== undefined) {
      await rm(dir, { recursive: true, force: true }).catch((err: unknown) =>
        ctx.log.warn({ err, dir }, "could not remove a spooled snapshot"),
      );
    }
  }
}
