import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderChart, UnsupportedTemplateError } from "./helm-render.js";
import {
  byKind,
  CHART_DIR,
  container,
  filesUnder,
  type Loose,
  type Manifest,
  parseManifests,
  read,
  runStartScript,
  validateManifest,
} from "./support.js";

const TLS_AND_AUTH = {
  tls: { enabled: true },
  auth: { enabled: true, rootPasswordSecret: "conclave-root" },
};

function render(values?: Record<string, unknown>, releaseName = "conclave"): Manifest[] {
  const out: Manifest[] = [];
  for (const [file, text] of renderChart(CHART_DIR, { releaseName, values })) {
    out.push(...parseManifests(text, file));
  }
  return out;
}

function plain(): Manifest[] {
  return filesUnder("deploy/kubernetes").flatMap((f) => parseManifests(read(f), f));
}

/** A copy of the chart with one template replaced, for the renderer's refusals. */
function chartWith(template: string): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-chart-"));
  cpSync(CHART_DIR, dir, { recursive: true });
  writeFileSync(join(dir, "templates/planted.yaml"), template);
  return dir;
}

describe("Helm chart deploy/helm/conclave", () => {
  it("renders with default values into valid objects", () => {
    const ms = render();
    expect(ms.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      "PodDisruptionBudget/conclave",
      "Service/conclave",
      "Service/conclave-peer",
      "StatefulSet/conclave",
    ]);
    for (const m of ms) validateManifest(m, `default values: ${m.kind}`);
    const sts = byKind(ms, "StatefulSet") as Loose;
    const c = container(sts);
    expect(sts.spec.replicas).toBe(3);
    expect(c.image).toBe("conclave:0.1.0");
    expect(c.readinessProbe.httpGet.scheme).toBe("HTTP");
    expect(c.env.some((e: Loose) => e.name === "CONCLAVE_CLIENT_CERT_FILE")).toBe(false);
    expect(c.resources).toEqual({
      requests: { cpu: "500m", memory: "512Mi" },
      limits: { memory: "1Gi" },
    });
    const { config } = runStartScript(sts, { name: "conclave-2", namespace: "team" });
    expect(config.nodeId).toBe(3);
    expect(config.advertiseClientUrl).toBe(
      "http://conclave-2.conclave-peer.team.svc.cluster.local:7379",
    );
    expect(config.peerAuth).toBe("secret");
  });

  it("renders with TLS, auth, a created secret and other sizes into valid objects", () => {
    const ms = render(
      {
        ...TLS_AND_AUTH,
        replicas: 5,
        clusterSecret: { create: true, value: "x".repeat(64) },
        storage: { size: "50Gi", storageClassName: "fast" },
        image: { tag: "0.2.0" },
      },
      "coord",
    );
    for (const m of ms) validateManifest(m, `TLS and auth: ${m.kind}`);
    const sts = byKind(ms, "StatefulSet") as Loose;
    expect(sts.spec.replicas).toBe(5);
    expect(sts.spec.serviceName).toBe("coord-peer");
    expect(sts.spec.volumeClaimTemplates[0].spec).toMatchObject({
      storageClassName: "fast",
      resources: { requests: { storage: "50Gi" } },
    });
    const c = container(sts);
    expect(c.image).toBe("conclave:0.2.0");
    const env = Object.fromEntries(c.env.map((e: Loose) => [e.name, e.value]));
    expect(env.CONCLAVE_AUTH_TOKEN_TTL_MS).toBe("300000");
    expect(env.INITIAL_MEMBERS).toBe("5");
    expect(byKind(ms, "Secret").metadata.name).toBe("coord-cluster-secret");
    const job = byKind(ms, "Job") as Loose;
    expect(job.metadata.annotations["helm.sh/hook"]).toBe("post-install");
    const jobEnv = job.spec.template.spec.containers[0].env;
    expect(jobEnv.find((e: Loose) => e.name === "CONCLAVE_ENDPOINTS").value).toBe(
      "https://coord:7379",
    );
    const { config } = runStartScript(sts, { name: "coord-4", namespace: "x" });
    expect(config.nodeId).toBe(5);
    expect(config.initialCluster.map((m) => m.name)).toEqual([
      "coord-0",
      "coord-1",
      "coord-2",
      "coord-3",
      "coord-4",
    ]);
    expect(config.peerAuth).toBe("secret");
    expect(config.peerCaFile).toBe("/etc/conclave/tls/ca.crt");
    expect(config.advertiseClientUrl).toMatch(/^https:\/\//);
  });

  it("with TLS on, it produces the plain manifests' pods, Services and budget", () => {
    const chart = render({ tls: { enabled: true } });
    const manifests = plain();
    const stsChart = byKind(chart, "StatefulSet") as Loose;
    const stsPlain = byKind(manifests, "StatefulSet") as Loose;
    // The pod spec (containers, command, env, probes, ports, volumes) is the same.
    expect(stsChart.spec.template.spec).toEqual(
      expectWithJoinName(stsPlain.spec.template.spec, "conclave-join"),
    );
    for (const key of ["replicas", "podManagementPolicy", "serviceName", "updateStrategy"]) {
      expect(stsChart.spec[key], key).toEqual(stsPlain.spec[key]);
    }
    expect(stsChart.spec.volumeClaimTemplates[0].spec).toEqual(
      stsPlain.spec.volumeClaimTemplates[0].spec,
    );
    for (const name of ["conclave", "conclave-peer"]) {
      const a = byKind(chart, "Service", name) as Loose;
      const b = byKind(manifests, "Service", name) as Loose;
      expect(a.spec.ports, name).toEqual(b.spec.ports);
      expect(a.spec.clusterIP, name).toEqual(b.spec.clusterIP);
      expect(a.spec.publishNotReadyAddresses, name).toEqual(b.spec.publishNotReadyAddresses);
    }
    expect((byKind(chart, "PodDisruptionBudget") as Loose).spec.maxUnavailable).toBe(
      (byKind(manifests, "PodDisruptionBudget") as Loose).spec.maxUnavailable,
    );
  });

  it("a planted difference between chart and manifests is seen", () => {
    const chart = render({ tls: { enabled: true }, logLevel: "debug" });
    const stsPlain = byKind(plain(), "StatefulSet") as Loose;
    expect(container(byKind(chart, "StatefulSet"))).not.toEqual(container(stsPlain));
  });

  it("the renderer refuses constructs it does not implement", () => {
    const planted = [
      ["{{ range .Values.replicas }}x{{ end }}", /"range" is not supported/],
      ['{{ printf "%s" .Release.Name }}', /function "printf" is not supported/],
      ["{{ if .Values.tls.enabled }}a{{ else if .Values.auth.enabled }}b{{ end }}", /plain else/],
      ["{{ .Values.nothing.here }}", /not a map/],
      ["{{ .Values.nothing }}", /renders no value/],
      ["{{ .Values.resources }}", /use toYaml/],
      ["{{ $x := 1 }}", /not supported/],
      ["{{ .Capabilities.KubeVersion }}", /not supported/],
      ['{{ include "conclave.missing" . }}', /no template/],
    ] as const;
    for (const [template, error] of planted) {
      const dir = chartWith(`kind: ConfigMap\ndata: ${template}\n`);
      expect(() => renderChart(dir, { releaseName: "r" }), template).toThrow(
        UnsupportedTemplateError,
      );
      expect(() => renderChart(dir, { releaseName: "r" }), template).toThrow(error);
    }
  });

  it("the renderer trims, quotes, defaults and indents as helm does", () => {
    const dir = chartWith(
      [
        "a: {{ .Values.logLevel | quote }}",
        "b: {{ .Values.image.tag | default .Chart.AppVersion }}",
        "c:",
        "  {{- toYaml .Values.resources.requests | nindent 2 }}",
        "d: {{ if .Values.tls.enabled }}on{{ else }}off{{ end }}",
        "{{- /* a comment */}}",
        'e: {{ include "conclave.fullname" . }}-x',
        "",
      ].join("\n"),
    );
    const text = renderChart(dir, { releaseName: "r" }).get("planted.yaml");
    expect(text).toBe('a: "info"\nb: 0.1.0\nc:\n  cpu: 500m\n  memory: 512Mi\nd: off\ne: r-x\n');
  });
});

/** The plain manifests name the join ConfigMap as the chart does for release "conclave". */
function expectWithJoinName(spec: Loose, name: string): Loose {
  const join = spec.volumes.find((v: Loose) => v.name === "join");
  expect(join.configMap.name).toBe(name);
  return spec;
}
