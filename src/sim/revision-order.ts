import type { RevisionSeen } from "./workload.js";

/**
 * Revisions follow real time: an operation called after another returned
 * sees at least that one's revision, and a write called after it creates a
 * higher one. (The per-key model checks each key; this checks the one
 * revision counter they share.) Returns a description of the first breach.
 */
export function checkRevisionOrder(seen: readonly RevisionSeen[]): string | undefined {
  const byCall = [...seen].sort((a, b) => a.call - b.call);
  const byRet = [...seen].sort((a, b) => a.ret - b.ret);
  let highest: RevisionSeen | undefined;
  let next = 0;
  for (const op of byCall) {
    while (next < byRet.length && byRet[next]!.ret < op.call) {
      const done = byRet[next++]!;
      if (highest === undefined || done.revision > highest.revision) highest = done;
    }
    if (highest === undefined) continue;
    const low = op.wrote ? op.revision <= highest.revision : op.revision < highest.revision;
    if (low) {
      return `an operation called at t=${op.call} ${op.wrote ? "wrote" : "saw"} revision ${op.revision}, but one that returned at t=${highest.ret} had already seen revision ${highest.revision}`;
    }
  }
  return undefined;
}
