import { collectDefaultMetrics, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createServerMetrics } from "../../src/server/metrics.js";
import { type Loose, read } from "./support.js";

interface Known {
  /** Exposed series names → the label names each may carry. */
  readonly series: Map<string, Set<string>>;
}

/** Target labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ["job", "instance"];

async function known(): Promise<Known> {
  const series = new Map<string, Set<string>>();
  const add = (name: string, labels: readonly string[]) =>
    series.set(name, new Set([...labels, ...TARGET_LABELS]));
  // The member's own metrics, as `conclave serve` builds them (event-loop delay on).
  const metrics = createServerMetrics({ eventLoopDelay: true });
  // prom-client's default process metrics, which `conclave serve` registers too.
  const defaults = new Registry();
  collectDefaultMetrics({ register: defaults });
  for (const registry of [metrics.registry, defaults]) {
    for (const m of await registry.getMetricsAsJSON()) {
      const labelNames = (registry.getSingleMetric(m.name) as Loose).labelNames ?? [];
      if (String(m.type) === "histogram") {
        add(`${m.name}_bucket`, [...labelNames, "le"]);
        add(`${m.name}_sum`, labelNames);
        add(`${m.name}_count`, labelNames);
      } else add(m.name, labelNames);
    }
  }
  metrics.close();
  add("up", []);
  return { series };
}

/** Each metric name in a PromQL expression, with the label names of its selector. */
function references(expr: string): { name: string; labels: string[] }[] {
  const out: { name: string; labels: string[] }[] = [];
  const re = /\b((?:conclave|process|nodejs)_[a-z0-9_]+|up)\b(\{[^}]*\})?/g;
  for (const m of expr.matchAll(re)) {
    const labels = [...(m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!=|!~|=)/g)].map(
      (l) => l[1]!,
    );
    out.push({ name: m[1]!, labels });
  }
  return out;
}

function problems(exprs: readonly { where: string; expr: string }[], k: Known): string[] {
  const out: string[] = [];
  for (const { where, expr } of exprs) {
    let depth = 0;
    for (const c of expr) {
      if ("({[".includes(c)) depth++;
      if (")}]".includes(c)) depth--;
      if (depth < 0) break;
    }
    if (depth !== 0) out.push(`${where}: unbalanced brackets`);
    for (const ref of references(expr)) {
      const labels = k.series.get(ref.name);
      if (labels === undefined) {
        out.push(`${where}: ${ref.name} is not a metric of conclave serve`);
        continue;
      }
      for (const l of ref.labels) {
        if (!labels.has(l)) out.push(`${where}: ${ref.name} has no label ${l}`);
      }
    }
  }
  return out;
}

function alertExprs(text: string): { where: string; expr: string }[] {
  const doc = parse(text) as Loose;
  return doc.groups.flatMap((g: Loose) =>
    g.rules.map((r: Loose) => ({ where: r.alert ?? r.record, expr: String(r.expr) })),
  );
}

function dashboardExprs(text: string): { where: string; expr: string }[] {
  const dash = JSON.parse(text) as Loose;
  const out: { where: string; expr: string }[] = [];
  for (const p of dash.panels) {
    for (const t of p.targets) out.push({ where: p.title, expr: t.expr });
  }
  for (const v of dash.templating.list) {
    if (typeof v.definition === "string")
      out.push({ where: `variable ${v.name}`, expr: v.definition });
  }
  return out;
}

const alertsText = read("deploy/monitoring/conclave-alerts.yaml");
const dashboardText = read("deploy/monitoring/conclave-dashboard.json");

describe("monitoring", () => {
  it("the alert rules use only metrics and labels conclave serve exports", async () => {
    const exprs = alertExprs(alertsText);
    expect(exprs.length).toBeGreaterThanOrEqual(7);
    expect(problems(exprs, await known())).toEqual([]);
  });

  it("the alert rules cover the failures a deployer must hear about", () => {
    const names = alertExprs(alertsText).map((e) => e.where);
    for (const wanted of [
      "ConclaveNoLeader",
      "ConclaveProposalFailures",
      "ConclaveFollowerLagging",
      "ConclaveSlowFsync",
      "ConclaveNoSpaceAlarm",
      "ConclaveMemberDown",
      "ConclaveEventLoopStalls",
    ]) {
      expect(names).toContain(wanted);
    }
    const doc = parse(alertsText) as Loose;
    for (const r of doc.groups.flatMap((g: Loose) => g.rules)) {
      expect(r.labels?.severity, r.alert).toMatch(/^(critical|warning|info)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
  });

  it("the dashboard uses only metrics and labels conclave serve exports", async () => {
    const exprs = dashboardExprs(dashboardText);
    expect(exprs.length).toBeGreaterThanOrEqual(20);
    expect(problems(exprs, await known())).toEqual([]);
    const dash = JSON.parse(dashboardText) as Loose;
    expect(new Set(dash.panels.map((p: Loose) => p.id)).size).toBe(dash.panels.length);
  });

  it("a planted unknown metric or label is reported", async () => {
    const k = await known();
    const plants = [
      alertsText.replace("conclave_raft_leader_id == 0", "conclave_raft_leader == 0"),
      alertsText.replace(
        "conclave_raft_persist_duration_seconds_bucket",
        "conclave_raft_fsync_seconds_bucket",
      ),
      alertsText.replace('outcome="failed"', 'result="failed"'),
      alertsText.replace("conclave_kv_nospace_alarm == 1", "(conclave_kv_nospace_alarm == 1"),
    ];
    for (const planted of plants) {
      expect(planted).not.toBe(alertsText);
      expect(problems(alertExprs(planted), k).length).toBeGreaterThan(0);
    }
    const dash = dashboardText.replace("conclave_kv_size_bytes", "conclave_db_size_bytes");
    expect(problems(dashboardExprs(dash), k)).toEqual(
      expect.arrayContaining([expect.stringMatching(/conclave_db_size_bytes is not a metric/)]),
    );
  });
});
