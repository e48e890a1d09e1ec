/** Shared by the offline checks of deploy/, the Dockerfile and docs/deploy.md. */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Job } from "kubernetes-models/batch/v1/Job";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { parseAllDocuments } from "yaml";
import { resolveServeConfig, type ServeConfig } from "../../src/server/runtime/config.js";
import { FIELDS } from "../../src/server/runtime/config-fields.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const K8S_DIR = join(ROOT, "deploy/kubernetes");
export const CHART_DIR = join(ROOT, "deploy/helm/conclave");

export function read(path: string): string {
  return readFileSync(join(ROOT, path), "utf8");
}

/** Every file under `dir` (relative to the repository), recursively. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      const p = join(abs, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(ROOT, p));
    }
  };
  walk(join(ROOT, dir));
  return out.sort();
}

export type Manifest = Record<string, unknown> & { kind: string; metadata: { name: string } };

/**
 * Parses a multi-document YAML text as Kubernetes does (YAML 1.1: `0400` is
 * octal), throwing on any syntax error; empty documents are dropped.
 */
export function parseManifests(text: string, where: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text, { version: "1.1" })) {
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as Manifest | null;
    if (value !== null) out.push(value);
  }
  return out;
}

const MODELS: Record<string, { validate(o: unknown): void }> = {
  "apps/v1/StatefulSet": { validate: (o) => new StatefulSet(o as never).validate() },
  "v1/Service": { validate: (o) => new Service(o as never).validate() },
  "v1/Secret": { validate: (o) => new Secret(o as never).validate() },
  "policy/v1/PodDisruptionBudget": {
    validate: (o) => new PodDisruptionBudget(o as never).validate(),
  },
  "batch/v1/Job": { validate: (o) => new Job(o as never).validate() },
};

/** Validates against the Kubernetes schema of its kind; an unknown kind is an error. */
export function validateManifest(m: Manifest, where: string): void {
  const key = `${String(m["apiVersion"])}/${m.kind}`;
  const model = MODELS[key];
  if (model === undefined) throw new Error(`${where}: no schema check for ${key}`);
  try {
    model.validate(m);
  } catch (err) {
    throw new Error(`${where}: ${m.kind} ${m.metadata?.name}: ${(err as Error).message}`);
  }
}

export function byKind(ms: readonly Manifest[], kind: string, name?: string): Manifest {
  const found = ms.filter(
    (m) => m.kind === kind && (name === undefined || m.metadata.name === name),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${kind} ${name ?? ""}, got ${found.length}`);
  return found[0]!;
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are walked as plain data
export type Loose = any;

export function container(sts: Manifest): Loose {
  return (sts as Loose).spec.template.spec.containers[0];
}

/** `conclave serve` flags (`--name`) and variables (`CONCLAVE_NAME`) of config-fields.ts. */
export const SERVE_FLAGS = new Set(FIELDS.map((f) => `--${f.flag}`).concat("--config", "--help"));
export const SERVE_ENV = new Set(FIELDS.map((f) => f.env).concat("CONCLAVE_CONFIG"));

/** CONCLAVE_* variables the client commands read, from the CLI's sources. */
export function clientEnvNames(): Set<string> {
  const names = new Set<string>();
  for (const f of filesUnder("src/cli")) {
    for (const m of read(f).matchAll(/"(CONCLAVE_[A-Z0-9_]+)"/g)) names.add(m[1]!);
  }
  return names;
}

/** Kubernetes' `$(VAR)` expansion of env values and commands: defined names only. */
export function expandKubeVars(text: string, env: Record<string, string>): string {
  return text.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string) => env[name] ?? all);
}

const STRONG_SECRET = "8569195a62c5eacff7a5c59598df0c9e6af7263f69b01a1f32a454ac6b7f0aae";

/**
 * Runs a StatefulSet's start script with `sh` as the given pod would (env from
 * the container, the pod name and namespace from the downward API), with
 * `conclave` replaced by a stub that prints its arguments, then resolves
 * those arguments and the container's environment as `conclave serve` does.
 * Paths under /run/conclave and /etc/conclave are moved into a scratch
 * directory holding a real secret file.
 */
export function runStartScript(
  sts: Manifest,
  pod: { name: string; namespace: string; join?: boolean },
): { argv: string[]; env: Record<string, string>; config: ServeConfig } {
  const c = container(sts);
  const dir = mkdtempSync(join(tmpdir(), "conclave-start-"));
  for (const d of ["run", "secret", "join", "bin"]) execFileSync("mkdir", ["-p", join(dir, d)]);
  writeFileSync(join(dir, "secret/cluster-secret"), `${STRONG_SECRET}\n`, { mode: 0o400 });
  if (pod.join === true) writeFileSync(join(dir, "join", pod.name), "true\n");
  writeFileSync(join(dir, "bin/conclave"), `#!/bin/sh\nprintf '%s\\0' "$@"\n`);
  chmodSync(join(dir, "bin/conclave"), 0o755);

  const env: Record<string, string> = {};
  for (const e of c.env as Loose[]) {
    if (e.value !== undefined) env[e.name] = expandKubeVars(String(e.value), env);
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[e.name] = pod.name;
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace") env[e.name] = pod.namespace;
    else throw new Error(`env ${e.name}: unsupported source`);
  }
  const command = c.command as string[];
  if (command[0] !== "/bin/sh" || command[1] !== "-c" || command.length !== 3) {
    throw new Error(
      `the container command must be /bin/sh -c SCRIPT, got ${JSON.stringify(command)}`,
    );
  }
  // The kubelet expands $(VAR) in commands before the shell sees them.
  const script = expandKubeVars(command[2]!, env)
    .replaceAll("/run/conclave/", `${dir}/run/`)
    .replaceAll("/etc/conclave/secret/", `${dir}/secret/`)
    .replaceAll("/etc/conclave/join/", `${dir}/join/`);
  const out = execFileSync("/bin/sh", ["-c", script], {
    env: { ...env, PATH: `${dir}/bin:/usr/bin:/bin` },
    encoding: "utf8",
  });
  const argv = out.split("\0").slice(0, -1);
  if (argv[0] !== "serve") throw new Error(`the script ran conclave ${argv[0]}, not serve`);
  // The resolution reads one file, the (moved) secret; certificates are read later.
  const serveEnv = Object.fromEntries(
    Object.entries(env).filter(([k]) => k.startsWith("CONCLAVE_")),
  );
  const resolved = resolveServeConfig({ argv: argv.slice(1), env: serveEnv });
  const args = argv.slice(1).map((a) => a.replaceAll(`${dir}/run/`, "/run/conclave/"));
  if (resolved.config === undefined) throw new Error("serve asked for help");
  return { argv: args, env: serveEnv, config: resolved.config };
}
