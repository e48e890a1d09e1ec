import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../support/free-port.js";
import { TcpProxy } from "../../support/tcp-proxy.js";

const MAIN = new URL("../../../src/devnode/main.ts", import.meta.url).pathname;
/** One random secret for the nodes this test file starts; handed over in the environment. */
const CLUSTER_SECRET = randomBytes(32).toString("hex");

export interface ClusterOptions {
  readonly size: number;
  readonly heartbeatMs?: number;
  readonly electionMs?: number;
  readonly snapshotEvery?: number;
  readonly catchUpEntries?: number;
}

interface Member {
  readonly id: number;
  readonly dataDir: string;
  readonly peerPort: number;
  readonly clientPort: number;
  proc: ChildProcess | undefined;
  log: string;
}

export interface HttpResult {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * Real node processes on 127.0.0.1, each with its own ports and data
 * directory, every peer link (i -> j) through its own TCP proxy so links can
 * be cut one way or both. Processes are ended by PID in `destroy()`.
 */
export class ProcessCluster {
  readonly members = new Map<number, Member>();
  /** proxy for traffic from node `from` to node `to`, keyed "from>to". */
  private readonly proxies = new Map<string, TcpProxy>();
  private readonly root = mkdtempSync(join(tmpdir(), "conclave-proc-"));
  readonly heartbeatMs: number;
  readonly electionMs: number;
  private readonly opts: ClusterOptions;
  private clientSeq = 0;
  readonly clientId = 1 + Math.floor(Math.random() * 1e9);

  constructor(opts: ClusterOptions) {
    this.opts = opts;
    this.heartbeatMs = opts.heartbeatMs ?? 50;
    this.electionMs = opts.electionMs ?? 500;
  }

  get ids(): number[] {
    return [...this.members.keys()];
  }

  async start(): Promise<void> {
    for (let id = 1; id <= this.opts.size; id++) await this.addMemberSlot(id);
    await this.wireProxies();
    await Promise.all(this.ids.map((id) => this.spawn(id, false)));
  }

  private async addMemberSlot(id: number): Promise<Member> {
    const m: Member = {
      id,
      dataDir: join(this.root, `n${id}`),
      peerPort: await freePort(),
      clientPort: await freePort(),
      proc: undefined,
      log: "",
    };
    this.members.set(id, m);
    return m;
  }

  private async wireProxies(): Promise<void> {
    for (const a of this.ids) {
      for (const b of this.ids) {
        if (a === b || this.proxies.has(`${a}>${b}`)) continue;
        this.proxies.set(`${a}>${b}`, await TcpProxy.start(this.members.get(b)!.peerPort));
      }
    }
  }

  private initialCluster(ids: readonly number[]): string {
    return ids.map((id) => `${id}=127.0.0.1:${this.members.get(id)!.peerPort}`).join(",");
  }

  private routes(from: number): string {
    return this.ids
      .filter((to) => to !== from)
      .map((to) => `${to}=127.0.0.1:${this.proxies.get(`${from}>${to}`)!.port}`)
      .join(",");
  }

  private founders: number[] = [];

  async spawn(id: number, join: boolean): Promise<void> {
    const m = this.members.get(id)!;
    if (!join && this.founders.length === 0) this.founders = this.ids.slice();
    const args = [
      "--import",
      "tsx",
      MAIN,
      "--id",
      String(id),
      "--data-dir",
      m.dataDir,
      "--peer",
      `127.0.0.1:${m.peerPort}`,
      "--client",
      `127.0.0.1:${m.clientPort}`,
      "--initial-cluster",
      this.initialCluster(join ? this.ids : this.founders),
      "--route",
      this.routes(id),
      "--heartbeat-ms",
      String(this.heartbeatMs),
      "--election-ms",
      String(this.electionMs),
      "--snapshot-every",
      String(this.opts.snapshotEvery ?? 10_000),
      "--catch-up-entries",
      String(this.opts.catchUpEntries ?? 1000),
      ...(join ? ["--join"] : []),
    ];
    const proc = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CONCLAVE_SECRET: CLUSTER_SECRET },
    });
    m.proc = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`node ${id} did not start:\n${m.log}`)),
        30_000,
      );
      proc.stdout!.on("data", (b: Buffer) => {
        m.log += b.toString();
        if (m.log.includes('"ready":true')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.stderr!.on("data", (b: Buffer) => {
        m.log += b.toString();
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`node ${id} exited with ${code}:\n${m.log}`));
      });
    });
  }

  /** Adds a new, empty node process that joins the running cluster (the caller proposes its membership). */
  async addNode(): Promise<number> {
    const id = Math.max(...this.ids) + 1;
    await this.addMemberSlot(id);
    await this.wireProxies();
    await this.spawn(id, true);
    return id;
  }

  peerAddress(id: number): string {
    return `127.0.0.1:${this.members.get(id)!.peerPort}`;
  }

  signal(id: number, sig: NodeJS.Signals): void {
    const p = this.members.get(id)!.proc;
    if (p?.pid !== undefined && p.exitCode === null) process.kill(p.pid, sig);
  }

  /** kill -9, then wait for the exit. */
  async kill(id: number): Promise<void> {
    const m = this.members.get(id)!;
    const p = m.proc;
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once("exit", () => r()));
    p.kill("SIGKILL");
    await exited;
    m.proc = undefined;
  }

  async restart(id: number): Promise<void> {
    await this.spawn(id, false);
  }

  /**
   * Cuts every link into `id` (and, unless one-way, out of it). With `reset`
   * connections are torn down and refused, losing what was in flight;
   * otherwise bytes are held back until heal.
   */
  cut(id: number, options: { oneWay?: boolean; reset?: boolean } = {}): void {
    for (const [key, proxy] of this.proxies) {
      const [from, to] = key.split(">").map(Number);
      if (to === id || (options.oneWay !== true && from === id))
        proxy.cut({ reset: options.reset === true });
    }
  }

  heal(): void {
    for (const proxy of this.proxies.values()) proxy.heal();
  }

  async request(id: number, method: string, path: string, body?: string): Promise<HttpResult> {
    const port = this.members.get(id)!.clientPort;
    // Longer than the node's own request timeout (5 s), so the node answers first.
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async status(id: number): Promise<Record<string, unknown> | undefined> {
    try {
      return (await this.request(id, "GET", "/status")).body;
    } catch {
      return undefined;
    }
  }

  /** The node that a live majority reports as leader, if any. */
  async leader(): Promise<number | undefined> {
    for (const id of this.ids) {
      const st = await this.status(id);
      if (st?.role === "leader") return id;
    }
    return undefined;
  }

  async waitFor<T>(f: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await f();
      if (v !== undefined) return v;
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * A write with exactly-once semantics: one (client, seq) retried at the
   * leader (following redirects) until acknowledged or the deadline passes.
   * Returns whether it was acknowledged.
   */
  async put(key: string, value: string, deadlineMs = 5000): Promise<boolean> {
    const seq = ++this.clientSeq;
    const deadline = Date.now() + deadlineMs;
    let target = this.ids[0]!;
    while (Date.now() < deadline) {
      try {
        const r = await this.request(
          target,
          "PUT",
          `/kv/${encodeURIComponent(key)}?client=${this.clientId}&seq=${seq}`,
          value,
        );
        if (r.status === 200) return true;
        if (r.status === 421 && typeof r.body.leader === "number" && r.body.leader > 0) {
          target = r.body.leader;
          continue;
        }
      } catch {
        // down or timed out: try another node
      }
      const alive = this.ids.filter((id) => this.members.get(id)!.proc !== undefined);
      target = alive[Math.floor(Math.random() * alive.length)] ?? target;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  /** A linearizable read at `id`. */
  async get(id: number, key: string): Promise<HttpResult> {
    return this.request(id, "GET", `/kv/${encodeURIComponent(key)}`);
  }

  /** Ends every process this cluster started (by PID) and removes the data. */
  async destroy(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.kill(id)));
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    rmSync(this.root, { recursive: true, force: true });
  }

  logs(): string {
    return [...this.members.values()].map((m) => `--- node ${m.id}\n${m.log}`).join("\n");
  }
}
