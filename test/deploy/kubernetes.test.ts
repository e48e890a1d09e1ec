import { describe, expect, it } from "vitest";
import {
  byKind,
  container,
  filesUnder,
  type Loose,
  type Manifest,
  parseManifests,
  read,
  runStartScript,
  validateManifest,
} from "./support.js";

const manifestFiles = filesUnder("deploy/kubernetes");

function loadPlain(): Manifest[] {
  return manifestFiles.flatMap((f) => parseManifests(read(f), f));
}

describe("YAML under deploy/", () => {
  it("every YAML file parses", () => {
    const yamlFiles = filesUnder("deploy").filter(
      (f) => /\.ya?ml$/.test(f) && !f.startsWith("deploy/helm/conclave/templates/"),
    );
    expect(yamlFiles.length).toBeGreaterThanOrEqual(7);
    for (const f of yamlFiles) expect(() => parseManifests(read(f), f), f).not.toThrow();
  });
});

describe("deploy/kubernetes", () => {
  it("every manifest validates against its Kubernetes schema", () => {
    const ms = loadPlain();
    expect(ms.map((m) => m.kind).sort()).toEqual([
      "PodDisruptionBudget",
      "Secret",
      "Secret",
      "Service",
      "Service",
      "StatefulSet",
    ]);
    for (const m of ms) validateManifest(m, m.metadata.name);
  });

  it("a schema violation is caught", () => {
    const sts = structuredClone(byKind(loadPlain(), "StatefulSet")) as Loose;
    sts.spec.template.spec.containers[0].ports[0].containerPort = "7379";
    expect(() => validateManifest(sts, "planted")).toThrow(/containerPort must be integer/);
  });

  it("the StatefulSet starts together, probes /ready and /health, runs non-root", () => {
    const ms = loadPlain();
    const sts = byKind(ms, "StatefulSet") as Loose;
    const c = container(sts);
    expect(sts.spec.podManagementPolicy).toBe("Parallel");
    expect(sts.spec.serviceName).toBe("conclave-peer");
    expect(c.readinessProbe.httpGet.path).toBe("/ready");
    expect(c.livenessProbe.httpGet.path).toBe("/health");
    expect(c.startupProbe.httpGet.path).toBe("/health");
    const env = Object.fromEntries(c.env.map((e: Loose) => [e.name, e.value]));
    expect(env.INITIAL_MEMBERS).toBe(String(sts.spec.replicas));
    const pod = sts.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(c.resources.requests).toBeDefined();
    // Secret files owner-read only (YAML 1.1 as Kubernetes reads it).
    for (const v of pod.volumes.filter((v: Loose) => v.secret)) {
      expect(v.secret.defaultMode, v.name).toBe(0o400);
    }
    // Every volume mounted exists, every volume is mounted.
    const volumes = new Set([
      ...pod.volumes.map((v: Loose) => v.name),
      ...sts.spec.volumeClaimTemplates.map((v: Loose) => v.metadata.name),
    ]);
    const mounts = new Set(c.volumeMounts.map((m: Loose) => m.name));
    expect([...mounts].sort()).toEqual([...volumes].sort());
    // Probe and Service ports name container ports.
    const portNames = new Set(c.ports.map((p: Loose) => p.name));
    expect(portNames.has(c.readinessProbe.httpGet.port)).toBe(true);
    for (const svc of ms.filter((m) => m.kind === "Service") as Loose[]) {
      for (const p of svc.spec.ports) expect(portNames.has(p.targetPort), p.name).toBe(true);
      expect(svc.spec.selector).toEqual(sts.spec.selector.matchLabels);
    }
    const headless = byKind(ms, "Service", "conclave-peer") as Loose;
    expect(headless.spec.clusterIP).toBe("None");
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    const pdb = byKind(ms, "PodDisruptionBudget") as Loose;
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector).toEqual(sts.spec.selector);
  });

  it("each pod's start command is a serve configuration that resolves, with its own id", () => {
    const sts = byKind(loadPlain(), "StatefulSet");
    const seen = new Set<number>();
    for (const ordinal of [0, 1, 2]) {
      const name = `conclave-${ordinal}`;
      const { config } = runStartScript(sts, { name, namespace: "prod" });
      const host = `${name}.conclave-peer.prod.svc.cluster.local`;
      expect(config.name).toBe(name);
      expect(config.nodeId).toBe(ordinal + 1);
      expect(config.advertisePeer).toBe(`${host}:7380`);
      expect(config.advertiseClientUrl).toBe(`https://${host}:7379`);
      expect(config.advertiseGrpcUrl).toBe(`https://${host}:7479`);
      expect(config.initialCluster.map((m) => m.id)).toEqual([1, 2, 3]);
      expect(config.peerAuth).toBe("secret");
      expect(config.join).toBe(false);
      expect(config.dataDir).toBe("/var/lib/conclave/data");
      expect(config.listenClient).toBe("0.0.0.0:7379");
      expect(config.allowedHosts).toEqual([
        "conclave",
        "conclave.prod",
        "conclave.prod.svc",
        "conclave.prod.svc.cluster.local",
      ]);
      seen.add(config.nodeId);
    }
    expect(seen.size).toBe(3);
  });

  it("a pod listed in the join ConfigMap starts with --join and the other members", () => {
    const sts = byKind(loadPlain(), "StatefulSet");
    const { config } = runStartScript(sts, { name: "conclave-1", namespace: "prod", join: true });
    expect(config.join).toBe(true);
    expect(config.nodeId).toBe(2);
    expect(config.initialCluster.map((m) => m.name)).toEqual(["conclave-0", "conclave-2"]);
  });

  it("a start script whose advertised peer address disagrees with the cluster list fails", () => {
    const sts = structuredClone(byKind(loadPlain(), "StatefulSet")) as Loose;
    const c = container(sts);
    c.command[2] = c.command[2].replace(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile and shell text, not JavaScript
      '--advertise-peer "${self}:7380"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile and shell text, not JavaScript
      '--advertise-peer "${self}:7381"',
    );
    expect(() => runStartScript(sts, { name: "conclave-0", namespace: "prod" })).toThrow(
      /initialCluster.*advertises/,
    );
  });
});
