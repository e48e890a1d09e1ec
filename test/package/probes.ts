/** What the test runs inside the installed project: imports and a strict type-check. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { OfflineProject } from "./offline-project.js";
import { run, runOk } from "./run.js";
import { tscBin } from "./tarball.js";

/** Subpaths that need no backend driver. */
export const DRIVER_FREE_SUBPATHS = [
  "conclave/hashring",
  "conclave/raft",
  "conclave/raft/node",
  "conclave/raft/storage",
  "conclave/raft/transport",
  "conclave/kv",
  "conclave/client",
  "conclave/shard-client",
  "conclave/errors",
  "conclave/registry",
  "conclave/server",
  "conclave/lock",
  "conclave/lock/conclave",
] as const;

/** Each driver subpath and the packages it needs (types included). */
export const DRIVER_SUBPATHS = {
  "conclave/lock/redis": { driver: "ioredis", install: ["ioredis"] },
  "conclave/lock/redlock": { driver: "ioredis", install: ["ioredis"] },
  "conclave/lock/postgres": { driver: "pg", install: ["pg", "@types/pg"] },
  "conclave/lock/etcd": { driver: "etcd3", install: ["etcd3"] },
  "conclave/lock/zookeeper": {
    driver: "node-zookeeper-client",
    install: ["node-zookeeper-client"],
  },
} as const;

export type ImportProbe =
  | { subpath: string; ok: true; importMs: number; rssBytes: number; heapUsedBytes: number }
  | { subpath: string; ok: false; name: string; code: string; message: string };

const PROBE_SCRIPT = `const subpath = process.argv[2];
const started = performance.now();
try {
  await import(subpath);
  const importMs = Math.round(performance.now() - started);
  const { rss, heapUsed } = process.memoryUsage();
  console.log(JSON.stringify({ subpath, ok: true, importMs, rssBytes: rss, heapUsedBytes: heapUsed }));
} catch (error) {
  console.log(JSON.stringify({ subpath, ok: false, name: error.name, code: String(error.code), message: error.message }));
}
`;

/** Imports `subpath` in a fresh node process in the project; one at a time, so memory is its own. */
export async function probeImport(project: OfflineProject, subpath: string): Promise<ImportProbe> {
  await writeFile(join(project.dir, "probe-import.mjs"), PROBE_SCRIPT);
  const result = await runOk(process.execPath, ["probe-import.mjs", subpath], { cwd: project.dir });
  return JSON.parse(result.stdout.trim()) as ImportProbe;
}

/** `require(subpath)` from CommonJS: its exit code and stderr. */
export function probeRequire(project: OfflineProject, subpath: string) {
  return run(process.execPath, ["-e", `require(${JSON.stringify(subpath)})`], { cwd: project.dir });
}

/**
 * Type-checks a file importing every `subpaths` namespace under strict
 * settings and without skipLibCheck, so every declaration file the package
 * ships (and every one it pulls in) is checked as a user's compiler would.
 */
export async function typeCheck(
  project: OfflineProject,
  name: string,
  subpaths: readonly string[],
) {
  const lines = subpaths.map((subpath, i) => `import * as m${i} from "${subpath}";`);
  lines.push(`export const modules = [${subpaths.map((_, i) => `m${i}`).join(", ")}];`);
  await writeFile(join(project.dir, `${name}.ts`), `${lines.join("\n")}\n`);
  const config = {
    compilerOptions: {
      target: "ES2022",
      lib: ["ES2023", "ESNext.Disposable"],
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: false,
      noEmit: true,
      types: ["node"],
    },
    files: [`${name}.ts`],
  };
  await writeFile(join(project.dir, `tsconfig.${name}.json`), JSON.stringify(config, null, 2));
  return run(process.execPath, [tscBin(), "-p", `tsconfig.${name}.json`], { cwd: project.dir });
}
