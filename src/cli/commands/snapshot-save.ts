/**
 * `conclave snapshot save FILE`: streams one node's key-space snapshot into
 * FILE. The bytes go to a temporary file beside FILE, which is fsynced and
 * checked by restoring it into a scratch store before it is renamed into
 * place, so FILE is either absent, the old file, or a complete snapshot.
 */
import { createReadStream } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { KvStore } from "../../kv/index.js";
import type { CommandDef } from "../command.js";

export interface SnapshotCheck {
  readonly revision: number;
  readonly compactRevision: number;
  readonly appliedIndex: number;
  readonly keyCount: number;
}

/** Restores the file into a scratch store; throws if it is truncated or corrupt. */
export async function checkSnapshotFile(path: string): Promise<SnapshotCheck> {
  const store = new KvStore();
  await store.restore(createReadStream(path));
  return {
    revision: store.revision,
    compactRevision: store.compactRevision,
    appliedIndex: store.appliedIndex,
    keyCount: store.keyCount,
  };
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function saveSnapshot(
  chunks: AsyncIterable<Uint8Array>,
  file: string,
): Promise<{ bytes: number } & SnapshotCheck> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.part`);
  let bytes = 0;
  try {
    const handle = await open(tmp, "wx");
    try {
      for await (const chunk of chunks) {
        await handle.write(chunk);
        bytes += chunk.byteLength;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    const check = await checkSnapshotFile(tmp);
    await rename(tmp, file);
    await fsyncDir(dir);
    return { bytes, ...check };
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export const snapshotSaveCommand: CommandDef = {
  spec: {
    name: "snapshot save",
    summary:
      "Saves a node's key-space snapshot (keys with their history, leases) to FILE, fsynced, after checking it restores.",
    args: [{ name: "FILE" }],
    options: {},
    details:
      "The snapshot comes from one node (the first endpoint that answers); it is that node's applied state.\n" +
      "Example:\n  conclave snapshot save backup.snap",
  },
  async run(ctx, [file = ""], flags) {
    if (file === "") flags.fail("FILE must not be empty");
    const saved = await saveSnapshot(ctx.client().snapshot(ctx.call), file);
    if (ctx.out.json) ctx.out.writeJson({ file, ...saved });
    else {
      ctx.out.write(
        `Snapshot saved at ${file} (${saved.bytes} bytes, revision ${saved.revision}, ${saved.keyCount} keys)\n`,
      );
    }
    return 0;
  },
};
