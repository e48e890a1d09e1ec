/**
 * Starting a command that dies with this process, however this process
 * ends — including SIGKILL, which runs no handler. `conclave lock` needs it:
 * a command left running after the lock process is gone would keep working
 * while the lock passes to someone else.
 *
 * On Linux the command runs under `setpriv --pdeathsig KILL` (util-linux):
 * the kernel sends it SIGKILL when its parent dies. PR_SET_PDEATHSIG fires
 * when the *thread* that forked the child ends, not the process; Node forks
 * from the main thread (libuv's uv_spawn runs on the event loop's thread),
 * which lives exactly as long as the process. Elsewhere, or when setpriv is
 * missing or too old, a small Node supervisor stands between the two: it
 * holds a pipe from this process and kills the command when the pipe closes
 * (the kernel closes it when this process dies), and passes signals on.
 *
 * Either way there is a window: a parent that dies while the child is being
 * set up (before prctl or the pipe watch) leaves the command running. The
 * fencing token is the real protection; this only keeps stray work short.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";

/** How the command is tied to this process. */
export type ParentDeathGuard = "pdeathsig" | "watchdog";

/**
 * The supervisor, run with `node -e`: argv[1] is the command as JSON; fd 3
 * is the pipe from the parent. It exits as the command did (same code, or
 * the same signal), 127/126 when the command cannot be started.
 */
const WATCHDOG_SCRIPT = `
const { spawn } = require("node:child_process");
const net = require("node:net");
const [program, ...args] = JSON.parse(process.argv[1]);
const child = spawn(program, args, { stdio: "inherit" });
const killChild = () => {
  try { child.kill("SIGKILL"); } catch {}
  process.exit(137);
};
const parent = new net.Socket({ fd: 3, readable: true, writable: false });
parent.on("end", killChild);
parent.on("close", killChild);
parent.on("error", killChild);
parent.resume();
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (error) => {
  process.stderr.write("conclave lock: cannot run " + JSON.stringify(program) + ": " + error.message + "\\n");
  process.exit(error.code === "ENOENT" ? 127 : 126);
});
child.on("exit", (code, signal) => {
  parent.removeAllListeners();
  parent.destroy();
  if (signal === null) process.exit(code ?? 1);
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
});
`;

let setprivWorks: boolean | undefined;

/** Whether `setpriv --pdeathsig` runs here (Linux, util-linux 2.33 or later, on PATH). */
function pdeathsigAvailable(): boolean {
  if (process.platform !== "linux") return false;
  setprivWorks ??=
    spawnSync("setpriv", ["--pdeathsig", "KILL", "--", "true"], {
      stdio: "ignore",
      timeout: 5000,
    }).status === 0;
  return setprivWorks;
}

/**
 * Spawns `program args` with inherited stdio and `env`, so that it is
 * killed if this process dies first. `child.kill(signal)` reaches the
 * command in both modes; its exit code and signal come back unchanged.
 */
export function spawnDyingWithParent(
  program: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { readonly child: ChildProcess; readonly guard: ParentDeathGuard } {
  if (pdeathsigAvailable()) {
    // setpriv execs the command in place: the child's pid is the command's.
    const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", program, ...args], {
      stdio: "inherit",
      env,
    });
    return { child, guard: "pdeathsig" };
  }
  const child = spawn(
    process.execPath,
    ["-e", WATCHDOG_SCRIPT, JSON.stringify([program, ...args])],
    {
      stdio: ["inherit", "inherit", "inherit", "pipe"],
      env,
    },
  );
  return { child, guard: "watchdog" };
}
