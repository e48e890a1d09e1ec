import { spawn } from "node:child_process";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type MemberPlan,
  planMembers,
  ServeProcess,
  tempRoot,
  untilWritable,
} from "./serve-process.js";

const MAIN = new URL("../../../src/cli/main.ts", import.meta.url).pathname;

/** `conclave …` as a child process; resolves with its exit code and output. */
function conclave(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
    let stdout = "";
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout }));
  });
}

function statusWithHost(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method: "GET", path: "/status", headers: { host } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("conclave serve in an insecure mode", () => {
  const root = tempRoot();
  let plan: MemberPlan;
  let member: ServeProcess;

  beforeAll(async () => {
    [plan] = (await planMembers(root.path, ["n1"])) as [MemberPlan];
    // Peers without authentication: allowed on loopback for development, never silently.
    member = await ServeProcess.start(plan, ["--dev-unauthenticated-peers"], {
      CONCLAVE_CLUSTER_SECRET: "",
    });
  });
  afterAll(async () => {
    await member?.terminate();
    root.remove();
  });

  it("logs a warning at start and shows it in conclave status", async () => {
    const warning = member.output
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level?: number; insecure?: boolean; msg?: string })
      .find((entry) => entry.insecure === true);
    expect(warning, member.output.slice(-2000)).toMatchObject({ level: 40 });
    expect(warning?.msg).toContain("peers are not authenticated");

    // A member without a leader yet is a problem status reports (exit 1): wait for one.
    await untilWritable(plan.clientUrl);
    const status = await conclave(["status", "--endpoints", plan.clientUrl]);
    expect(status.code, status.stdout).toBe(0);
    expect(status.stdout).toContain(`WARNING ${plan.clientUrl}: ${warning?.msg}`);
  });

  it("refuses a request whose Host names another host", async () => {
    expect(await statusWithHost(plan.clientPort, "rebound.example")).toBe(403);
    expect(await statusWithHost(plan.clientPort, `localhost:${plan.clientPort}`)).toBe(200);
  });
});
