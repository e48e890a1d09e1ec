import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { electCommand } from "../../src/cli/elect.js";
import { lockCommand } from "../../src/cli/lock.js";
import { ConclaveClient } from "../../src/client/index.js";
import { ConclaveLockBackend } from "../../src/lock/conclave/index.js";
import { LockClient } from "../../src/lock/index.js";
import {
  type ConclaveTestCluster,
  startConclaveCluster,
} from "../lock/support/conclave-cluster.js";
import { freePort } from "../support/free-port.js";
import { waitFor } from "../support/wait-for.js";

/** Whether process `pid` still runs (a zombie nobody reaped yet counts as gone). */
function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z /s.test(stat);
  } catch {
    return false;
  }
}

const cliArgs = ["--import", "tsx", "src/cli/main.ts"];

/** A running CLI process with its output collected line by line. */
class Cli {
  readonly child: ChildProcess;
  readonly stdout: string[] = [];
  stderr = "";
  readonly exited: Promise<number>;

  constructor(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [...cliArgs, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let partial = "";
    this.child.stdout!.on("data", (chunk: Buffer) => {
      partial += chunk.toString("utf8");
      const lines = partial.split("\n");
      partial = lines.pop()!;
      this.stdout.push(...lines);
    });
    this.child.stderr!.on("data", (chunk: Buffer) => {
      this.stderr += chunk.toString("utf8");
    });
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => resolve(code ?? (signal === null ? -1 : 128)));
    });
  }

  /** Waits (bounded) until a stdout line satisfies `match`. */
  async line(match: (line: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.stdout.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(
          `no ${what} line; stdout: ${this.stdout.join(" | ")}; stderr: ${this.stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * Runs `conclave lock|elect ...` in this process, for usage errors: they are
 * answered before anything connects, and a process per case costs seconds.
 */
async function runInThisProcess(args: readonly string[]) {
  const [command, ...rest] = args;
  let stderr = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await (command === "lock" ? lockCommand : electCommand)(rest);
    return { code, stderr };
  } finally {
    spy.mockRestore();
  }
}

async function run(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const cli = new Cli(args, env);
  const code = await cli.exited;
  return { code, stdout: cli.stdout.join("\n"), stderr: cli.stderr };
}

describe("conclave lock / elect: usage", () => {
  it("prints help for each command", async () => {
    for (const command of ["lock", "elect"]) {
      const { code, stdout } = await run([command, "--help"]);
      expect(code).toBe(0);
      expect(stdout).toContain(`Usage: conclave ${command} NAME`);
    }
  });

  it("answers bad flags with the problem and the usage, exit 2", async () => {
    const cases: [string[], string][] = [
      [["lock"], "NAME is missing"],
      [["lock", "jobs"], "COMMAND is missing"],
      [["lock", "jobs", "--ttl", "soon", "--", "true"], "--ttl must be a number of seconds"],
      [["lock", "jobs", "--wait", "-1", "--", "true"], "--wait"],
      [["lock", "jobs", "--frobnicate", "--", "true"], "frobnicate"],
      [["lock", "jobs", "extra", "--", "true"], 'put the command after "--"'],
      [["lock", "jobs", "--endpoints", "127.0.0.1:2379", "--", "true"], "is not an http(s) URL"],
      [["elect"], "NAME is missing"],
      [["elect", "jobs", "v", "w"], "unexpected argument"],
      [["elect", "jobs", "--ttl", "0"], "--ttl"],
    ];
    for (const [args, problem] of cases) {
      const { code, stderr } = await runInThisProcess(args);
      expect(code, args.join(" ")).toBe(2);
      expect(stderr, args.join(" ")).toContain(problem);
      expect(stderr, args.join(" ")).toContain("Usage: conclave");
    }
  });

  it("refuses VALUE and --ttl with --listen, exit 2", async () => {
    const cases: [string[], string][] = [
      [["elect", "jobs", "v", "--listen"], "VALUE is not allowed with --listen"],
      [["elect", "jobs", "-l", "--ttl", "5"], "--ttl is not allowed with --listen"],
    ];
    for (const [args, problem] of cases) {
      const { code, stderr } = await runInThisProcess(args);
      expect(code, args.join(" ")).toBe(2);
      expect(stderr, args.join(" ")).toContain(problem);
    }
  });

  it("exits 125 when no endpoint answers", async () => {
    const port = await freePort();
    const { code, stderr } = await run(["lock", "jobs", "--", "true"], {
      CONCLAVE_ENDPOINTS: `http://127.0.0.1:${port}`,
    });
    expect(code).toBe(125);
    expect(stderr).toContain("conclave lock:");
  });
});

describe("conclave lock / elect against a cluster", () => {
  let cluster: ConclaveTestCluster;
  let raw: ConclaveClient;
  let locks: LockClient<bigint>;
  let endpoints: string;
  const running: Cli[] = [];

  beforeAll(async () => {
    cluster = await startConclaveCluster();
    endpoints = cluster.endpoints.join(",");
    raw = new ConclaveClient({ endpoints: cluster.endpoints });
    locks = new LockClient(new ConclaveLockBackend({ client: raw }));
  });

  afterAll(async () => {
    for (const cli of running) if (cli.child.exitCode === null) cli.child.kill("SIGKILL");
    await locks?.destroy();
    await raw?.close();
    await cluster?.stop();
  });

  function start(args: readonly string[]): Cli {
    const cli = new Cli(args);
    running.push(cli);
    return cli;
  }

  it("runs the command with the fencing token and passes its exit code through", async () => {
    const script =
      "console.log(process.env.CONCLAVE_LOCK_NAME + ' ' + process.env.CONCLAVE_FENCING_TOKEN); process.exit(7)";
    const first = await run(["lock", "jobs", "--endpoints", endpoints, "--", "node", "-e", script]);
    expect(first.code).toBe(7);
    const [name, token] = first.stdout.trim().split(" ");
    expect(name).toBe("jobs");
    const second = await run(["lock", "jobs", "--", "node", "-e", script], {
      CONCLAVE_ENDPOINTS: endpoints,
    });
    expect(second.code).toBe(7);
    expect(BigInt(second.stdout.trim().split(" ")[1]!) > BigInt(token!)).toBe(true);
    // Released afterwards: the lock is free again.
    const after = await locks.tryAcquire("jobs");
    expect(after).toBeDefined();
    await after!.release();
  });

  it("exits 124 when the lock is not acquired within --wait, without running the command", async () => {
    const held = await locks.acquire("busy");
    const { code, stdout, stderr } = await run([
      "lock",
      "busy",
      "--wait",
      "0.3",
      "--endpoints",
      endpoints,
      "--",
      "node",
      "-e",
      "console.log('ran')",
    ]);
    expect(code).toBe(124);
    expect(stdout).not.toContain("ran");
    expect(stderr).toContain("not acquired within 0.3 s");
    await held.release();
  });

  it("exits 127 for a command that does not exist, and releases the lock", async () => {
    const { code } = await run([
      "lock",
      "missing",
      "--endpoints",
      endpoints,
      "--",
      "no-such-command-x",
    ]);
    expect(code).toBe(127);
    const after = await locks.tryAcquire("missing");
    expect(after).toBeDefined();
    await after!.release();
  });

  it("stops the command with SIGTERM and exits 122 when the lock is lost", async () => {
    const script =
      "process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(0); }); console.log('ready'); setInterval(() => {}, 1000);";
    const cli = start([
      "lock",
      "lost",
      "--grace",
      "2",
      "--endpoints",
      endpoints,
      "--",
      "node",
      "-e",
      script,
    ]);
    await cli.line((l) => l === "ready", "ready");
    const queue = await raw.range({ key: "conclave/lock/mutex/lost/", prefix: true });
    await raw.leaseRevoke(queue.kvs[0]!.lease);
    expect(await cli.exited).toBe(122);
    expect(cli.stdout).toContain("got SIGTERM");
    expect(cli.stderr).toContain('lost "lost"');
  });

  it("kills a command that ignores SIGTERM after the grace period", async () => {
    const script =
      "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('ready'); setInterval(() => {}, 1000);";
    const cli = start([
      "lock",
      "stubborn",
      "--grace",
      "0.2",
      "--endpoints",
      endpoints,
      "--",
      "node",
      "-e",
      script,
    ]);
    await cli.line((l) => l === "ready", "ready");
    const queue = await raw.range({ key: "conclave/lock/mutex/stubborn/", prefix: true });
    await raw.leaseRevoke(queue.kvs[0]!.lease);
    expect(await cli.exited).toBe(122);
    expect(cli.stdout).toContain("ignoring SIGTERM");
  });

  it("elect: campaigns, prints leadership changes, resigns on SIGTERM", async () => {
    const first = start(["elect", "scheduler", "node-a", "--json", "--endpoints", endpoints]);
    await first.line((l) => l.includes('"elected"'), "elected");
    const elected = JSON.parse(await first.line((l) => l.includes('"elected"'), "elected"));
    expect(elected).toMatchObject({ event: "elected", value: "node-a" });
    await first.line((l) => l.includes('"leader"') && l.includes("node-a"), "leader node-a");

    const second = start(["elect", "scheduler", "node-b", "--endpoints", endpoints]);
    await second.line((l) => l.startsWith("leader node-a token="), "leader node-a");
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(first.stdout.map((l) => JSON.parse(l).event)).toContain("resigned");

    const took = await second.line((l) => l.startsWith("elected node-b token="), "elected node-b");
    const token = BigInt(took.split("token=")[1]!);
    expect(token > BigInt(elected.fencingToken)).toBe(true);
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
    expect(second.stdout).toContain("resigned");
    expect(await locks.election("scheduler").leader()).toBeUndefined();
  });

  it("elect --listen prints leadership changes without campaigning", async () => {
    const listener = start(["elect", "observed", "--listen", "--endpoints", endpoints]);
    await listener.line((l) => l === "no leader", "no leader");
    const candidate = start(["elect", "observed", "node-c", "--endpoints", endpoints]);
    const elected = await candidate.line((l) => l.startsWith("elected node-c"), "elected");
    const token = elected.split("token=")[1]!;
    await listener.line((l) => l === `leader node-c token=${token}`, "leader node-c");
    candidate.child.kill("SIGTERM");
    expect(await candidate.exited).toBe(0);
    await waitFor(
      () => listener.stdout.filter((l) => l === "no leader").length === 2,
      "no leader again",
    );
    expect(listener.stdout.some((l) => l.startsWith("elected"))).toBe(false);
    listener.child.kill("SIGINT");
    expect(await listener.exited).toBe(0);
    expect(listener.stdout).not.toContain("resigned");
  });

  /** Runs `conclave lock NAME` over a command that records its pid, SIGKILLs the lock process, and checks the command died. */
  async function killLockProcess(
    name: string,
    guard: "pdeathsig" | "watchdog",
    env: NodeJS.ProcessEnv = {},
  ) {
    const dir = mkdtempSync(join(tmpdir(), "conclave-lock-"));
    try {
      const pidFile = join(dir, "pid");
      const script = `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000);`;
      const cli = new Cli(
        ["lock", name, "--ttl", "5", "--endpoints", endpoints, "--", "node", "-e", script],
        env,
      );
      running.push(cli);
      const pid = await waitFor(
        () => {
          try {
            return Number(readFileSync(pidFile, "utf8")) || undefined;
          } catch {
            return undefined;
          }
        },
        "the command's pid",
        30_000,
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; stderr: ${cli.stderr}`);
      });
      expect(processRunning(pid)).toBe(true);
      // Under setpriv the command is the lock process's own child; else a supervisor's.
      const parentPid = Number(
        readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1],
      );
      if (guard === "pdeathsig") expect(parentPid).toBe(cli.child.pid);
      else {
        expect(parentPid).not.toBe(cli.child.pid);
        expect(readFileSync(`/proc/${parentPid}/cmdline`, "utf8")).toContain("\0-e\0");
      }
      cli.child.kill("SIGKILL");
      await cli.exited;
      await waitFor(() => !processRunning(pid), "the command to die with the lock process", 5000);
      // The lease runs out and the lock passes on; nothing is still working under it.
      const next = await locks.acquire(name, { waitMs: 20_000 });
      expect(processRunning(pid)).toBe(false);
      await next.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("lock: the command dies when the lock process is SIGKILLed", async () => {
    await killLockProcess("killed", "pdeathsig");
  });

  it("lock: without setpriv, a watchdog kills the command when the lock process is SIGKILLed", async () => {
    // A PATH with node but no setpriv.
    const bin = mkdtempSync(join(tmpdir(), "conclave-bin-"));
    try {
      symlinkSync(process.execPath, join(bin, "node"));
      await killLockProcess("killed-watchdog", "watchdog", { PATH: bin });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
