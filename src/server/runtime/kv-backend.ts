import type { MvccBackend } from "../../kv/backend/backend.js";
import { LmdbBackend } from "../../kv/backend/lmdb.js";
import { MemoryBackend } from "../../kv/backend/memory.js";
import type { ServeSettings } from "./config-fields.js";

/** The key space's backend a member's settings ask for, kept in `dir` when on disk. */
export function openKvBackend(
  settings: Pick<ServeSettings, "kvBackend" | "backendBatchIntervalMs" | "backendBatchLimit">,
  dir: string,
): MvccBackend {
  if (settings.kvBackend === "memory") return new MemoryBackend();
  return new LmdbBackend(dir, {
    intervalMs: settings.backendBatchIntervalMs,
    maxWrites: settings.backendBatchLimit,
  });
}
