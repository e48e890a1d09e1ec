import type { NodeId } from "../core/types.js";
import { crc32c } from "./crc32c.js";
import { DataDirMismatchError, StorageCorruptionError } from "./errors.js";
import type { StorageFs } from "./fs.js";
import { isNotFound } from "./fs.js";

/** Which cluster and which member a data directory belongs to. */
export interface DataDirIdentity {
  readonly clusterId: string;
  readonly nodeId: NodeId;
}

export const IDENTITY_FILE = "identity.json";
const IDENTITY_FORMAT = 1;

function canonical(id: DataDirIdentity): string {
  return JSON.stringify({ format: IDENTITY_FORMAT, clusterId: id.clusterId, nodeId: id.nodeId });
}

function checksumHex(text: string): string {
  return crc32c(new TextEncoder().encode(text)).toString(16).padStart(8, "0");
}

/** Reads the identity file; undefined when the directory has none. */
export async function readIdentity(
  fs: StorageFs,
  dir: string,
  path: string,
): Promise<DataDirIdentity | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new StorageCorruptionError(path, undefined, "identity file is not valid JSON");
  }
  const p = parsed as Record<string, unknown>;
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    p["format"] !== IDENTITY_FORMAT ||
    typeof p["clusterId"] !== "string" ||
    typeof p["nodeId"] !== "number" ||
    !Number.isSafeInteger(p["nodeId"]) ||
    typeof p["checksum"] !== "string"
  ) {
    throw new StorageCorruptionError(
      path,
      undefined,
      `identity file of ${dir} has unexpected fields`,
    );
  }
  const id: DataDirIdentity = { clusterId: p["clusterId"], nodeId: p["nodeId"] as number };
  if (checksumHex(canonical(id)) !== p["checksum"]) {
    throw new StorageCorruptionError(path, undefined, "identity file checksum mismatch");
  }
  return id;
}

export function checkIdentity(
  dir: string,
  stored: DataDirIdentity,
  expected: DataDirIdentity,
): void {
  if (stored.clusterId !== expected.clusterId) {
    throw new DataDirMismatchError(
      dir,
      "clusterId",
      JSON.stringify(stored.clusterId),
      JSON.stringify(expected.clusterId),
    );
  }
  if (stored.nodeId !== expected.nodeId) {
    throw new DataDirMismatchError(dir, "nodeId", String(stored.nodeId), String(expected.nodeId));
  }
}

/** Writes the identity file atomically: temporary file, fsync, rename, directory fsync. */
export async function writeIdentity(
  fs: StorageFs,
  dir: string,
  path: string,
  id: DataDirIdentity,
): Promise<void> {
  const text = canonical(id);
  const body = `${JSON.stringify({
    format: IDENTITY_FORMAT,
    clusterId: id.clusterId,
    nodeId: id.nodeId,
    checksum: checksumHex(text),
  })}\n`;
  const tmp = `${path}.tmp`;
  const file = await fs.openWritable(tmp, "create");
  try {
    await file.append(new TextEncoder().encode(body));
    await file.datasync();
  } finally {
    await file.close();
  }
  await fs.rename(tmp, path);
  await fs.syncDir(dir);
}
