import type { AutoCompactionPolicy } from "../../kv/index.js";
import { ServeConfigError } from "./config-error.js";

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * `--auto-compaction-mode` and `--auto-compaction-retention` as etcd reads
 * them: periodic takes a duration (`30m`, `1h30m`; a bare number is hours),
 * revision a count; a retention of 0 turns auto-compaction off.
 */
export function autoCompactionPolicy(
  mode: "periodic" | "revision",
  retention: string,
  source: string,
): AutoCompactionPolicy | undefined {
  const fail = (message: string): never => {
    throw new ServeConfigError("autoCompactionRetention", source, message);
  };
  if (/^[0-9]+$/.test(retention)) {
    const n = Number(retention);
    if (n === 0) return undefined;
    if (mode === "revision") return { mode, retainRevisions: n };
    return { mode, retentionMs: n * UNIT_MS["h"]! };
  }
  if (mode === "revision") return fail(`revision mode needs a count, got ${retention}`);
  let retentionMs = 0;
  for (const [, amount, unit] of retention.matchAll(/([0-9]+)(ms|s|m|h)/g)) {
    retentionMs += Number(amount) * UNIT_MS[unit!]!;
  }
  if (!Number.isSafeInteger(retentionMs)) return fail(`${retention} is too long`);
  return retentionMs === 0 ? undefined : { mode, retentionMs };
}
