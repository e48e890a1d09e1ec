/**
 * The microservices example end to end: a real 3-member cluster, three
 * `hello` instances, the gateway. Kills instances and the job's leader while
 * requests flow, and checks that every request through the gateway
 * succeeds, that the singleton job passes to another instance with a
 * strictly greater fencing token (and never runs under an older one after a
 * newer one wrote), and that a config change reaches every instance.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConclaveClient } from "../../src/client/index.js";
import { Registry } from "../../src/registry/index.js";
import { ServeCluster } from "../server/process/serve-cluster.js";
import { freePort } from "../support/free-port.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const GREETING_KEY = "/example/config/greeting";
const JOB_LAST_KEY = "/example/job/last";

interface Proc {
  readonly child: ChildProcess;
  readonly port: number;
  output: string;
}

function launch(script: string, args: readonly string[], port: number): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const proc: Proc = { child, port, output: "" };
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (text: string) => {
      proc.output = (proc.output + text).slice(-50_000);
    });
  }
  return proc;
}

function alive(proc: Proc): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  return {
    status: res.status,
    body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

async function until<T>(
  what: string,
  timeoutMs: number,
  f: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface JobRun {
  readonly instance: string;
  readonly token: string;
  readonly run: number;
}

/** Every run the job wrote, in revision order, from the key's history. */
async function jobHistory(client: ConclaveClient): Promise<JobRun[]> {
  const now = await client.range({ key: JOB_LAST_KEY });
  const runs: JobRun[] = [];
  const watch = client.watch(JOB_LAST_KEY, { startRevision: 1 });
  try {
    for await (const batch of watch) {
      for (const event of batch.events) {
        if (event.type === "put")
          runs.push(JSON.parse(new TextDecoder().decode(event.kv.value)) as JobRun);
      }
      if (batch.revision >= now.revision) break;
    }
  } finally {
    watch.close();
  }
  return runs;
}

describe("examples/kit end to end", () => {
  const cluster = new ServeCluster({ size: 3 });
  const services = new Map<string, Proc>();
  let gateway: Proc;
  let client: ConclaveClient;
  let gatewayUrl: string;

  beforeAll(async () => {
    await cluster.start();
    client = cluster.client();
    await client.put(GREETING_KEY, "hello");
    const endpoints = cluster.ids.map((id) => cluster.member(id).clientUrl).join(",");
    for (const id of ["hello-1", "hello-2", "hello-3"]) {
      const port = await freePort();
      services.set(
        id,
        launch(
          "examples/kit/service.ts",
          ["--id", id, "--port", String(port), "--endpoints", endpoints],
          port,
        ),
      );
    }
    const gatewayPort = await freePort();
    gateway = launch(
      "examples/kit/gateway.ts",
      ["--port", String(gatewayPort), "--endpoints", endpoints],
      gatewayPort,
    );
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const registry = new Registry(client);
    await until("three registered hello instances", 60_000, async () => {
      const snapshot = await registry.resolve("hello");
      return snapshot.instances.length === 3 ? snapshot : undefined;
    });
  }, 120_000);

  afterAll(async () => {
    for (const proc of [...services.values(), gateway]) {
      if (proc !== undefined && alive(proc)) proc.child.kill("SIGKILL");
    }
    await client?.close();
    await cluster.destroy();
  });

  const logs = () =>
    [...services.entries()].map(([id, p]) => `--- ${id}\n${p.output}`).join("\n") +
    `\n--- gateway\n${gateway.output}`;

  it("routes each user to one instance, and spreads users over all three", async () => {
    const owners = new Map<string, string>();
    for (let u = 0; u < 30; u++) {
      const user = `user-${u}`;
      const first = await until(`gateway answer for ${user}`, 20_000, async () => {
        const r = await getJson(`${gatewayUrl}/hello?user=${user}`);
        return r.status === 200 ? r : undefined;
      });
      const again = await getJson(`${gatewayUrl}/hello?user=${user}`);
      expect(again.body.instance, logs()).toBe(first.body.instance);
      owners.set(user, String(first.body.instance));
    }
    expect(new Set(owners.values()).size).toBe(3);
  });

  it("a config change reaches every instance", async () => {
    await client.put(GREETING_KEY, "bonjour");
    for (const [id, proc] of services) {
      await until(`${id} greeting bonjour`, 20_000, async () => {
        const r = await getJson(`http://127.0.0.1:${proc.port}/hello?user=x`);
        return r.body.greeting === "bonjour" ? true : undefined;
      });
    }
  });

  it("keeps answering while instances and the job's leader are killed; the job moves on with a greater token", async () => {
    const registry = new Registry(client);
    const firstRun = await until("the job's first run", 30_000, async () => {
      const r = await client.get(JOB_LAST_KEY);
      return r === undefined
        ? undefined
        : (JSON.parse(new TextDecoder().decode(r.value)) as JobRun);
    });
    const leader = services.get(firstRun.instance);
    expect(leader, `job leader ${firstRun.instance}`).toBeDefined();
    const others = [...services.keys()].filter((id) => id !== firstRun.instance);

    // Kill the job's leader, then (later) one more instance, while requests flow.
    leader?.child.kill("SIGKILL");
    let failures = 0;
    let answered = 0;
    const served = new Set<string>();
    for (let i = 0; i < 120; i++) {
      if (i === 60) services.get(others[0] as string)?.child.kill("SIGKILL");
      const r = await getJson(`${gatewayUrl}/hello?user=user-${i % 30}`);
      if (r.status === 200) {
        answered += 1;
        served.add(String(r.body.instance));
      } else failures += 1;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(failures, logs()).toBe(0);
    expect(answered).toBe(120);

    // The dead instances leave the registry when their leases run out.
    const survivor = others[1] as string;
    await until("only the survivor registered", 30_000, async () => {
      const s = await registry.resolve("hello");
      return s.instances.length === 1 && s.instances[0]?.id === survivor ? true : undefined;
    });
    const r = await getJson(`${gatewayUrl}/hello?user=anyone`);
    expect(r.body.instance).toBe(survivor);

    // The job now runs on the survivor, under a greater fencing token.
    const lastRun = await until("the job on the survivor", 30_000, async () => {
      const got = await client.get(JOB_LAST_KEY);
      const run =
        got === undefined ? undefined : (JSON.parse(new TextDecoder().decode(got.value)) as JobRun);
      return run?.instance === survivor ? run : undefined;
    });
    expect(BigInt(lastRun.token)).toBeGreaterThan(BigInt(firstRun.token));

    // In the job's whole history, tokens never go back, and one token is one instance.
    const history = await jobHistory(client);
    expect(history.length).toBeGreaterThan(2);
    const holderOf = new Map<string, string>();
    for (let i = 0; i < history.length; i++) {
      const run = history[i] as JobRun;
      if (i > 0)
        expect(BigInt(run.token)).toBeGreaterThanOrEqual(BigInt((history[i - 1] as JobRun).token));
      expect(holderOf.get(run.token) ?? run.instance).toBe(run.instance);
      holderOf.set(run.token, run.instance);
    }
    expect(new Set(history.map((run) => run.instance)).has(survivor)).toBe(true);
  }, 120_000);
});
