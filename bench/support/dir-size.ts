/**
 * Disk space a directory tree takes, as `du` counts it: allocated blocks,
 * so sparse and preallocated files count for what they really hold.
 */
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

export function allocatedBytes(path: string): number {
  const stat = lstatSync(path);
  let total = stat.blocks * 512;
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path)) total += allocatedBytes(join(path, entry));
  }
  return total;
}
