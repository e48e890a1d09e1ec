import { describe, expect, it } from "vitest";
import { renderChart } from "./helm-render.js";
import {
  byKind,
  CHART_DIR,
  clientEnvNames,
  container,
  filesUnder,
  type Loose,
  type Manifest,
  parseManifests,
  read,
  SERVE_ENV,
  SERVE_FLAGS,
} from "./support.js";

interface Use {
  readonly where: string;
  readonly name: string;
}

/** `--flags` passed to `conclave serve` in a shell text (continuation lines joined). */
function serveFlags(text: string, where: string): Use[] {
  const out: Use[] = [];
  const joined = text.replace(/\\\r?\n/g, " ");
  for (const m of joined.matchAll(/conclave serve\b([^\n]*)/g)) {
    for (const f of m[1]!.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/g))
      out.push({ where, name: f[1]! });
  }
  return out;
}

function envNames(c: Loose, where: string): Use[] {
  return (c.env ?? []).map((e: Loose) => ({ where, name: e.name as string }));
}

/** The serve container's env names and start flags of every StatefulSet we ship. */
function statefulSets(): { where: string; sts: Manifest; all: Manifest[] }[] {
  const plain = filesUnder("deploy/kubernetes").flatMap((f) => parseManifests(read(f), f));
  const out = [{ where: "deploy/kubernetes", sts: byKind(plain, "StatefulSet"), all: plain }];
  for (const [label, values] of [
    ["chart (defaults)", {}],
    [
      "chart (TLS, auth)",
      { tls: { enabled: true }, auth: { enabled: true, rootPasswordSecret: "s" } },
    ],
  ] as const) {
    const ms = [...renderChart(CHART_DIR, { releaseName: "conclave", values })].flatMap(([f, t]) =>
      parseManifests(t, f),
    );
    out.push({ where: label, sts: byKind(ms, "StatefulSet"), all: ms });
  }
  return out;
}

function unknownServeSettings(uses: readonly Use[]): string[] {
  return uses
    .filter((u) =>
      u.name.startsWith("--")
        ? !SERVE_FLAGS.has(u.name)
        : u.name.startsWith("CONCLAVE_") && !SERVE_ENV.has(u.name),
    )
    .map((u) => `${u.where}: ${u.name}`);
}

describe("conclave serve settings used by the deployment files exist", () => {
  it("the StatefulSets (plain and rendered) use real flags and variables", () => {
    const uses: Use[] = [];
    for (const { where, sts } of statefulSets()) {
      const c = container(sts);
      uses.push(...envNames(c, where), ...serveFlags(c.command.join("\n"), where));
      // Script variables that are not serve settings are set and read.
      for (const e of c.env as Loose[]) {
        if (e.name.startsWith("CONCLAVE_")) continue;
        expect(c.command[2], `${where}: ${e.name} is set but unused`).toMatch(
          new RegExp(`\\$\\{?${e.name}\\b`),
        );
      }
    }
    expect(uses.filter((u) => u.name.startsWith("--")).length).toBeGreaterThan(5);
    expect(unknownServeSettings(uses)).toEqual([]);
  });

  it("the auth Job uses the client commands' variables", () => {
    const client = clientEnvNames();
    expect(client.has("CONCLAVE_ENDPOINTS")).toBe(true);
    for (const { where, all } of statefulSets()) {
      for (const job of all.filter((m) => m.kind === "Job") as Loose[]) {
        for (const e of job.spec.template.spec.containers[0].env) {
          if (e.name.startsWith("CONCLAVE_"))
            expect(client.has(e.name), `${where}: ${e.name}`).toBe(true);
        }
      }
    }
  });

  it("the systemd unit, its env file and the Dockerfile use real flags and variables", () => {
    const uses: Use[] = [];
    const envFile = read("deploy/systemd/conclave.env.example");
    for (const line of envFile.split("\n")) {
      const m = /^([A-Z0-9_]+)=/.exec(line);
      if (m !== null) uses.push({ where: "conclave.env.example", name: m[1]! });
      else expect(line === "" || line.startsWith("#"), line).toBe(true);
    }
    expect(uses.length).toBeGreaterThan(10);
    expect(uses.every((u) => u.name.startsWith("CONCLAVE_"))).toBe(true);
    uses.push(...serveFlags(read("deploy/systemd/conclave.service"), "conclave.service"));
    const dockerfile = read("Dockerfile").replace(/\\\r?\n/g, " ");
    for (const m of dockerfile.matchAll(/\b(CONCLAVE_[A-Z0-9_]+)=/g)) {
      uses.push({ where: "Dockerfile", name: m[1]! });
    }
    for (const m of read("deploy/docker/healthcheck.mjs").matchAll(/env\.(CONCLAVE_[A-Z0-9_]+)/g)) {
      uses.push({ where: "healthcheck.mjs", name: m[1]! });
    }
    expect(unknownServeSettings(uses)).toEqual([]);
  });

  it("docs/deploy.md names only real serve flags and CONCLAVE_ variables", () => {
    const doc = read("docs/deploy.md");
    const uses = serveFlags(doc, "docs/deploy.md");
    expect(uses.length).toBeGreaterThan(5);
    const client = clientEnvNames();
    const unknownEnv = [...doc.matchAll(/\b(CONCLAVE_[A-Z0-9_]+)\b/g)]
      .map((m) => m[1]!)
      .filter((n) => !SERVE_ENV.has(n) && !client.has(n));
    expect(unknownServeSettings(uses)).toEqual([]);
    expect(unknownEnv).toEqual([]);
  });

  it("a planted misspelt flag or variable is reported", () => {
    expect(
      unknownServeSettings(serveFlags("conclave serve --advertise-client http://x", "t")),
    ).toEqual(["t: --advertise-client"]);
    expect(unknownServeSettings([{ where: "t", name: "CONCLAVE_PEER_CA" }])).toEqual([
      "t: CONCLAVE_PEER_CA",
    ]);
    const plain = read("deploy/kubernetes/statefulset.yaml").replace(
      "--cluster-secret-file",
      "--secret-file",
    );
    const sts = byKind(parseManifests(plain, "planted"), "StatefulSet");
    expect(unknownServeSettings(serveFlags(container(sts).command.join("\n"), "planted"))).toEqual([
      "planted: --secret-file",
    ]);
  });
});
