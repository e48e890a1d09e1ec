/**
 * `conclave serve` processes for tests: started from the TypeScript sources
 * on free loopback ports with temp data dirs, ready once they print their
 * ready line, and signalled by PID only.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../support/free-port.js";

const MAIN = new URL("../../../src/cli/main.ts", import.meta.url).pathname;
/** tsx compiles the sources on first start; a loaded 2-core machine needs slack. */
const READY_WITHIN_MS = 60_000;
/**
 * The members one test file starts share this random secret, handed over in
 * the environment; a test that passes CONCLAVE_CLUSTER_SECRET: "" runs without.
 */
const CLUSTER_SECRET = randomBytes(32).toString("hex");

export interface MemberPlan {
  readonly name: string;
  readonly id: number;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  get clientUrl(): string;
  get peer(): string;
}

export async function planMembers(
  root: string,
  names: readonly string[],
  firstId = 1,
): Promise<MemberPlan[]> {
  const out: MemberPlan[] = [];
  for (const [i, name] of names.entries()) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    out.push({
      name,
      id: firstId + i,
      clientPort,
      peerPort,
      dataDir: join(root, name),
      get clientUrl() {
        return `http://127.0.0.1:${clientPort}`;
      },
      get peer() {
        return `127.0.0.1:${peerPort}`;
      },
    });
  }
  return out;
}

export function initialCluster(members: readonly MemberPlan[]): string {
  return members.map((m) => `${m.name}=${m.id}@${m.peer}@${m.clientUrl}`).join(",");
}

export function tempRoot(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), "conclave-serve-"));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export class ServeProcess {
  readonly child: ChildProcess;
  output = "";
  readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    child.stdout?.on("data", (b: Buffer) => {
      this.output += b.toString();
    });
    child.stderr?.on("data", (b: Buffer) => {
      this.output += b.toString();
      // Keep the tail only: enough to explain a failure.
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    });
  }

  /** Runs `conclave serve` with `args` and waits for its ready line. */
  static async start(
    member: MemberPlan,
    extraArgs: readonly string[] = [],
    env: Record<string, string> = {},
    launcher: readonly string[] = [],
    nodeArgs: readonly string[] = [],
  ): Promise<ServeProcess> {
    const p = ServeProcess.spawn(ServeProcess.args(member, extraArgs), env, launcher, nodeArgs);
    await p.ready();
    return p;
  }

  /** The flags `start` runs a member with: its name, id, data dir and ports, test timings. */
  static args(member: MemberPlan, extraArgs: readonly string[] = []): string[] {
    return [
      "--name",
      member.name,
      "--node-id",
      String(member.id),
      "--data-dir",
      member.dataDir,
      "--listen-client",
      `127.0.0.1:${member.clientPort}`,
      "--listen-peer",
      member.peer,
      "--heartbeat-ms",
      "50",
      "--election-ms",
      "1000",
      "--log-level",
      "info",
      ...extraArgs,
    ];
  }

  /**
   * `launcher` runs before node, e.g. `["prlimit", "--nofile=256:256", "--"]`;
   * `nodeArgs` are node's own flags, e.g. V8 tracing that NODE_OPTIONS refuses.
   */
  static spawn(
    args: readonly string[],
    env: Record<string, string> = {},
    launcher: readonly string[] = [],
    nodeArgs: readonly string[] = [],
  ): ServeProcess {
    const command = [
      ...launcher,
      process.execPath,
      ...nodeArgs,
      "--import",
      "tsx",
      MAIN,
      "serve",
      ...args,
    ];
    const child = spawn(command[0]!, command.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CONCLAVE_CLUSTER_SECRET: CLUSTER_SECRET, ...env },
    });
    return new ServeProcess(child);
  }

  async ready(): Promise<void> {
    const deadline = Date.now() + READY_WITHIN_MS;
    while (!this.output.includes('"ready":true')) {
      if (this.child.exitCode !== null || Date.now() > deadline) {
        this.kill();
        throw new Error(`serve did not become ready:\n${this.output.slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM, then the exit code. */
  async terminate(): Promise<number | null> {
    if (
      this.child.exitCode === null &&
      this.child.signalCode === null &&
      this.child.pid !== undefined
    ) {
      process.kill(this.child.pid, "SIGTERM");
    }
    return this.exited;
  }

  kill(): void {
    if (
      this.child.exitCode === null &&
      this.child.signalCode === null &&
      this.child.pid !== undefined
    ) {
      process.kill(this.child.pid, "SIGKILL");
    }
  }
}

export interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export async function post(url: string, path: string, body: unknown = {}): Promise<Reply> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}

/** Polls `f` until it returns a value, failing with `what` after `timeoutMs`. */
export async function eventually<T>(
  f: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** Waits until the member at `url` acknowledges a put (it has a leader and serves). */
export async function untilWritable(url: string): Promise<void> {
  await eventually(
    async () =>
      (await post(url, "/v3/kv/put", { key: b64("ready"), value: b64("1") })).status === 200
        ? true
        : undefined,
    "the member to take writes",
  );
}
