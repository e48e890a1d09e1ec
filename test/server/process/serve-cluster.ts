/**
 * A cluster of `conclave serve` processes on 127.0.0.1 for tests that kill,
 * pause and partition members. Each member advertises a {@link PeerLinkProxy}
 * in front of its peer port as its peer address, so every peer reaches it
 * through that proxy and links can be cut one way or both. Processes are
 * signalled and ended by PID only; `destroy()` ends them and removes the data.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ClientOptions, ConclaveClient } from "../../../src/client/index.js";
import { freePort } from "../../support/free-port.js";
import { type CutMode, PeerLinkProxy } from "../../support/peer-link-proxy.js";
import { sampleValue } from "../metric-sample.js";
import { ServeProcess } from "./serve-process.js";

export interface ServeClusterOptions {
  readonly size: number;
  readonly heartbeatMs?: number;
  readonly electionMs?: number;
  readonly snapshotEveryEntries?: number;
  readonly snapshotCatchUpEntries?: number;
  readonly requestTimeoutMs?: number;
  /** Where a member keeps its data; default a directory under the cluster's temp root. */
  readonly dataDirOf?: (id: number) => string | undefined;
  /** More `conclave serve` flags for every member. */
  readonly extraArgs?: readonly string[];
}

export interface ServeMember {
  readonly id: number;
  readonly name: string;
  readonly dataDir: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly proxy: PeerLinkProxy;
  proc: ServeProcess | undefined;
  /** Output of every process this member ran, oldest first (tail only). */
  log: string;
  get clientUrl(): string;
}

/** What `/status` answers, as far as these tests read it. */
export interface MemberStatus {
  readonly id: number;
  readonly role: string;
  readonly term: number;
  readonly leader: number | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly voters: number[];
  readonly learners: number[];
}

export interface HttpReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const LOG_TAIL_CHARS = 100_000;

export class ServeCluster {
  readonly members = new Map<number, ServeMember>();
  readonly root = mkdtempSync(join(tmpdir(), "conclave-cluster-"));
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly #opts: ServeClusterOptions;
  /** The members the cluster was founded with; later ones join. */
  #founders: number[] = [];
  readonly #joined = new Set<number>();

  constructor(opts: ServeClusterOptions) {
    this.#opts = opts;
    this.heartbeatMs = opts.heartbeatMs ?? 50;
    this.electionMs = opts.electionMs ?? 1000;
  }

  get ids(): number[] {
    return [...this.members.keys()];
  }

  member(id: number): ServeMember {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  /** Plans and starts every founding member; resolves once each printed its ready line. */
  async start(): Promise<void> {
    for (let id = 1; id <= this.#opts.size; id++) await this.#plan(id);
    this.#founders = this.ids;
    await Promise.all(this.ids.map((id) => this.restart(id)));
  }

  async #plan(id: number): Promise<ServeMember> {
    const clientPort = await freePort();
    const peerPort = await freePort();
    const proxy = await PeerLinkProxy.start(peerPort);
    const m: ServeMember = {
      id,
      name: `n${id}`,
      dataDir: this.#opts.dataDirOf?.(id) ?? join(this.root, `n${id}`),
      clientPort,
      peerPort,
      proxy,
      proc: undefined,
      log: "",
      get clientUrl() {
        return `http://127.0.0.1:${clientPort}`;
      },
    };
    this.members.set(id, m);
    return m;
  }

  /** `name=id@peer@clientUrl` of `ids`, every peer address being the member's proxy. */
  initialCluster(ids: readonly number[] = this.#founders): string {
    return ids
      .map((id) => {
        const m = this.member(id);
        return `${m.name}=${id}@${m.proxy.address}@${m.clientUrl}`;
      })
      .join(",");
  }

  #args(m: ServeMember): string[] {
    const o = this.#opts;
    return [
      "--name",
      m.name,
      "--node-id",
      String(m.id),
      "--data-dir",
      m.dataDir,
      "--listen-client",
      `127.0.0.1:${m.clientPort}`,
      "--listen-peer",
      `127.0.0.1:${m.peerPort}`,
      "--advertise-peer",
      m.proxy.address,
      "--initial-cluster",
      this.initialCluster(),
      ...(this.#joined.has(m.id) ? ["--join"] : []),
      "--heartbeat-ms",
      String(this.heartbeatMs),
      "--election-ms",
      String(this.electionMs),
      "--snapshot-every-entries",
      String(o.snapshotEveryEntries ?? 10_000),
      "--snapshot-catch-up-entries",
      String(o.snapshotCatchUpEntries ?? 1000),
      "--request-timeout-ms",
      String(o.requestTimeoutMs ?? 5000),
      "--log-level",
      "warn",
      ...(o.extraArgs ?? []),
    ];
  }

  /** Starts member `id`'s process (again) on its data dir and waits for its ready line. */
  async restart(id: number): Promise<void> {
    const m = this.member(id);
    if (this.isRunning(id)) throw new Error(`member ${id} is already running`);
    const proc = ServeProcess.spawn(this.#args(m));
    m.proc = proc;
    try {
      await proc.ready();
    } finally {
      m.log = (m.log + proc.output).slice(-LOG_TAIL_CHARS);
    }
    // Keep collecting what the process says after it is ready.
    const from = proc.output.length;
    void proc.exited.then(() => {
      m.log = (m.log + proc.output.slice(from)).slice(-LOG_TAIL_CHARS);
    });
  }

  /** A new, empty member that joins the running cluster; the caller adds it with member add first. */
  async plan(): Promise<ServeMember> {
    const id = Math.max(...this.ids) + 1;
    this.#joined.add(id);
    return this.#plan(id);
  }

  /** What member `id`'s current (or last) process printed so far. */
  output(id: number): string {
    return this.member(id).proc?.output ?? "";
  }

  isRunning(id: number): boolean {
    const c = this.member(id).proc?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  pid(id: number): number | undefined {
    return this.isRunning(id) ? this.member(id).proc?.child.pid : undefined;
  }

  signal(id: number, sig: NodeJS.Signals): void {
    const pid = this.pid(id);
    if (pid !== undefined) process.kill(pid, sig);
  }

  /** kill -9 (a stopped process too), then wait for the exit. */
  async kill(id: number): Promise<void> {
    const m = this.member(id);
    const p = m.proc;
    if (p === undefined || !this.isRunning(id)) return;
    this.signal(id, "SIGKILL");
    await p.exited;
  }

  /** Stops every link into `id`; unless `oneWay`, every link out of it too. */
  cut(id: number, options: { oneWay?: boolean; mode?: CutMode } = {}): void {
    const mode = options.mode ?? "hold";
    this.member(id).proxy.cutAll(mode);
    if (options.oneWay === true) return;
    for (const other of this.ids) if (other !== id) this.member(other).proxy.cutFrom(id, mode);
  }

  /** Stops only the link `from` → `to`. */
  cutLink(from: number, to: number, mode: CutMode = "hold"): void {
    this.member(to).proxy.cutFrom(from, mode);
  }

  heal(): void {
    for (const m of this.members.values()) m.proxy.heal();
  }

  /** An SDK client for the given members (all by default). */
  client(ids: readonly number[] = this.ids, options: Partial<ClientOptions> = {}): ConclaveClient {
    return new ConclaveClient({
      endpoints: ids.map((id) => this.member(id).clientUrl),
      timeoutMs: 5000,
      ...options,
    });
  }

  /** A JSON POST to one member, answered by that member alone. */
  async post(id: number, path: string, body: unknown = {}, timeoutMs = 10_000): Promise<HttpReply> {
    const res = await fetch(`${this.member(id).clientUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  }

  async status(id: number): Promise<MemberStatus | undefined> {
    if (!this.isRunning(id)) return undefined;
    try {
      const res = await fetch(`${this.member(id).clientUrl}/status`, {
        signal: AbortSignal.timeout(2000),
      });
      return res.ok ? ((await res.json()) as MemberStatus) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Snapshots this member's process received from a leader and installed. */
  async snapshotsInstalled(id: number): Promise<number | undefined> {
    const res = await fetch(`${this.member(id).clientUrl}/metrics`, {
      signal: AbortSignal.timeout(5000),
    });
    return sampleValue(await res.text(), "conclave_raft_snapshots_total", { kind: "installed" });
  }

  /** A running member that says it leads, if any. */
  async leader(among: readonly number[] = this.ids): Promise<number | undefined> {
    for (const id of among) {
      if ((await this.status(id))?.role === "leader") return id;
    }
    return undefined;
  }

  /** Polls `f` every 20 ms until it returns a value, failing with `what` after `timeoutMs`. */
  async waitFor<T>(f: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await f();
      if (v !== undefined) return v;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Ends every process this cluster started (by PID), closes the proxies and removes the data. */
  async destroy(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.kill(id)));
    await Promise.all([...this.members.values()].map((m) => m.proxy.close()));
    rmSync(this.root, { recursive: true, force: true });
  }

  logs(): string {
    return [...this.members.values()].map((m) => `--- ${m.name}\n${m.log}`).join("\n");
  }
}
