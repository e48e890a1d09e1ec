/**
 * Builds the npm package the way `npm pack` would ship it, without touching
 * the checkout's dist/: the compiler writes into a temporary directory beside
 * copies of package.json and the other shipped files, and `npm pack` runs
 * there (scripts off: prepack would build again, into the checkout).
 */

import { existsSync } from "node:fs";
import { chmod, cp, mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runOk } from "./run.js";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface PackedPackage {
  /** Absolute path of the .tgz. */
  readonly tarball: string;
  readonly fileName: string;
  /** Paths inside the package, as `npm pack --json` lists them. */
  readonly files: readonly string[];
  readonly packedBytes: number;
  readonly unpackedBytes: number;
  readonly integrity: string;
}

export function tscBin(): string {
  return createRequire(join(REPO_ROOT, "package.json")).resolve("typescript/bin/tsc");
}

export async function buildTarball(workDir: string): Promise<PackedPackage> {
  const stage = join(workDir, "stage");
  await mkdir(stage, { recursive: true });
  await runOk(
    process.execPath,
    [tscBin(), "-p", join(REPO_ROOT, "tsconfig.build.json"), "--outDir", join(stage, "dist")],
    { cwd: REPO_ROOT },
  );
  await chmod(join(stage, "dist", "cli", "main.js"), 0o755);
  await cp(join(REPO_ROOT, "package.json"), join(stage, "package.json"));
  // What package.json's `files` lists besides dist/ (just compiled), copied when the checkout has it.
  const { files } = await readRepoJson<{ files: string[] }>("package.json");
  for (const entry of files.filter((f) => f !== "dist")) {
    const from = join(REPO_ROOT, entry);
    if (existsSync(from)) await cp(from, join(stage, entry), { recursive: true });
  }
  const packed = await runOk(
    "npm",
    ["pack", "--json", "--ignore-scripts", "--pack-destination", workDir],
    { cwd: stage },
  );
  const [report] = JSON.parse(packed.stdout) as {
    filename: string;
    size: number;
    unpackedSize: number;
    integrity: string;
    files: { path: string }[];
  }[];
  if (report === undefined) throw new Error(`npm pack reported nothing: ${packed.stdout}`);
  return {
    tarball: join(workDir, report.filename),
    fileName: report.filename,
    files: report.files.map((f) => f.path),
    packedBytes: report.size,
    unpackedBytes: report.unpackedSize,
    integrity: report.integrity,
  };
}

export async function readRepoJson<T>(name: string): Promise<T> {
  return JSON.parse(await readFile(join(REPO_ROOT, name), "utf8")) as T;
}
