/**
 * A clean project that installs the packed tarball the way a user would
 * (`npm install`), but offline: `npm ci` filled the npm cache with every
 * package of the checkout's lockfile, and the project's own lockfile is cut
 * from that one, so npm needs no registry metadata and no network.
 *
 * The cut follows Node's module resolution through the checkout's lockfile
 * tree: from each included package, every dependency resolves to the nearest
 * `node_modules/<name>` up its path, exactly the copy it uses in the checkout.
 */

import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type RunResult, run, runOk } from "./run.js";
import { type PackedPackage, readRepoJson } from "./tarball.js";

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  optional?: boolean;
  [field: string]: unknown;
}

interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

interface Manifest {
  name: string;
  version: string;
  license?: string;
  engines?: Record<string, string>;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

function parentKey(key: string): string | undefined {
  if (key === "") return undefined;
  const at = key.lastIndexOf("/node_modules/");
  return at < 0 ? "" : key.slice(0, at);
}

function resolveKey(packages: Lockfile["packages"], from: string, name: string): string {
  for (let base: string | undefined = from; base !== undefined; base = parentKey(base)) {
    const key = `${base === "" ? "" : `${base}/`}node_modules/${name}`;
    if (packages[key] !== undefined) return key;
  }
  throw new Error(`the checkout's lockfile has no ${name} reachable from "${from}"`);
}

function requiredEdges(entry: LockEntry | Manifest): [string, boolean][] {
  const peers = Object.keys(entry.peerDependencies ?? {}).filter(
    (name) => entry.peerDependenciesMeta?.[name]?.optional !== true,
  );
  return [
    ...Object.keys(entry.dependencies ?? {}).map((n): [string, boolean] => [n, true]),
    ...peers.map((n): [string, boolean] => [n, true]),
    // Optional dependencies (platform builds) may be absent from the lockfile.
    ...Object.keys(entry.optionalDependencies ?? {}).map((n): [string, boolean] => [n, false]),
  ];
}

/**
 * Where npm's configured registry serves a package's tarball. The checkout's
 * lockfile leaves `resolved` out; without it npm would ask the registry for
 * metadata, which offline it cannot. With it (and the integrity), npm reads
 * the tarball from its cache by content.
 */
function tarballUrl(registry: string, key: string, version: string): string {
  const name = key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);
  const base = name.startsWith("@") ? name.slice(name.indexOf("/") + 1) : name;
  return `${registry.replace(/\/?$/, "/")}${name}/-/${base}-${version}.tgz`;
}

/** The checkout's lockfile entries every `roots` package needs, keyed by their path. */
function closure(
  lock: Lockfile,
  roots: readonly string[],
  registry: string,
): Map<string, LockEntry> {
  const found = new Map<string, LockEntry>();
  const pending = roots.map((name) => resolveKey(lock.packages, "", name));
  while (pending.length > 0) {
    const key = pending.pop()!;
    if (found.has(key)) continue;
    const entry = lock.packages[key]!;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...kept } = entry;
    found.set(key, { resolved: tarballUrl(registry, key, entry.version!), ...kept });
    for (const [name, required] of requiredEdges(entry)) {
      try {
        pending.push(resolveKey(lock.packages, key, name));
      } catch (error) {
        if (required) throw error;
      }
    }
  }
  return found;
}

export interface InstallOutcome extends RunResult {
  /** Packages in the project's node_modules, conclave included. */
  readonly packageCount: number;
  /** Bytes of every file under node_modules. */
  readonly installedBytes: number;
}

export class OfflineProject {
  readonly dir: string;
  readonly #packed: PackedPackage;
  #manifest: Manifest | undefined;
  #registry: string | undefined;

  constructor(dir: string, packed: PackedPackage) {
    this.dir = dir;
    this.#packed = packed;
  }

  /**
   * Installs conclave plus `extra` (packages of the checkout's lockfile, at
   * its versions) with `npm install --offline`.
   */
  async install(extra: readonly string[]): Promise<InstallOutcome> {
    await mkdir(this.dir, { recursive: true });
    await copyFile(this.#packed.tarball, join(this.dir, this.#packed.fileName));
    const lock = await readRepoJson<Lockfile>("package-lock.json");
    this.#manifest ??= await readRepoJson<Manifest>("package.json");
    const conclave = this.#manifest;
    const tarballSpec = `file:${this.#packed.fileName}`;

    const roots = [...requiredEdges(conclave).map(([name]) => name), ...extra].filter(
      (name) => lock.packages[`node_modules/${name}`] !== undefined,
    );
    this.#registry ??= (
      await runOk("npm", ["config", "get", "registry"], { cwd: this.dir })
    ).stdout.trim();
    const entries = closure(lock, roots, this.#registry);
    const rootDependencies: Record<string, string> = { conclave: tarballSpec };
    for (const name of extra) {
      rootDependencies[name] = lock.packages[`node_modules/${name}`]!.version!;
    }
    const projectManifest = {
      name: "conclave-install-probe",
      version: "1.0.0",
      private: true,
      type: "module",
      dependencies: rootDependencies,
    };
    const projectLock = {
      name: projectManifest.name,
      version: projectManifest.version,
      lockfileVersion: 3,
      requires: true,
      packages: {
        "": {
          name: projectManifest.name,
          version: projectManifest.version,
          dependencies: rootDependencies,
        },
        "node_modules/conclave": {
          version: conclave.version,
          resolved: tarballSpec,
          integrity: this.#packed.integrity,
          license: conclave.license,
          dependencies: conclave.dependencies,
          optionalDependencies: conclave.optionalDependencies,
          peerDependencies: conclave.peerDependencies,
          peerDependenciesMeta: conclave.peerDependenciesMeta,
          bin: conclave.bin,
          engines: conclave.engines,
        },
        ...Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      },
    };
    await writeFile(
      join(this.dir, "package.json"),
      `${JSON.stringify(projectManifest, null, 2)}\n`,
    );
    await writeFile(
      join(this.dir, "package-lock.json"),
      `${JSON.stringify(projectLock, null, 2)}\n`,
    );
    const result = await run("npm", ["install", "--offline", "--no-audit", "--no-fund"], {
      cwd: this.dir,
    });
    const installed = await readdirNames(join(this.dir, "node_modules"));
    return {
      ...result,
      packageCount: installed.length,
      installedBytes: await treeBytes(join(this.dir, "node_modules")),
    };
  }
}

/** Package names directly or nested under a node_modules directory. */
async function readdirNames(nodeModules: string): Promise<string[]> {
  const names: string[] = [];
  let entries: string[];
  try {
    entries = await readdir(nodeModules);
  } catch {
    return names;
  }
  for (const entry of entries) {
    if (entry.startsWith(".")) continue;
    const scoped = entry.startsWith("@");
    const packages = scoped
      ? (await readdir(join(nodeModules, entry))).map((n) => `${entry}/${n}`)
      : [entry];
    for (const name of packages) {
      names.push(name);
      names.push(...(await readdirNames(join(nodeModules, name, "node_modules"))));
    }
  }
  return names;
}

async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  if (!existsSync(dir)) return total;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}

export async function readInstalledJson<T>(project: OfflineProject, path: string): Promise<T> {
  return JSON.parse(await readFile(join(project.dir, path), "utf8")) as T;
}
