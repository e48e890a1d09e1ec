import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runClientCommand } from "../../src/cli/client-commands.js";
import { connect } from "../../src/cli/connect.js";
import { type CliCluster, startCliCluster } from "../cli/cli-cluster.js";
import { lineReader, runInProcess, startCli } from "../cli/run-cli.js";
import { waitFor } from "../support/wait-for.js";

let cluster: CliCluster;

beforeAll(async () => {
  cluster = await startCliCluster();
});
afterAll(async () => {
  await cluster.stop();
});

const cli = (...args: string[]) => runInProcess([...args, ...cluster.endpointsFlag]);

/** A long-running command inside this process, stopped by aborting its signal (as SIGINT does). */
function startInProcess(...args: string[]) {
  const stop = new AbortController();
  const lines: string[] = [];
  let partial = "";
  const exit = runClientCommand([...args, ...cluster.endpointsFlag], {
    stdout: (text) => {
      const parts = (partial + text).split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
    },
    stderr: (text) => {
      lines.push(`stderr: ${text}`);
    },
    env: {},
    readStdin: async () => "",
    connect,
    signal: stop.signal,
  });
  return {
    lines,
    line: (n: number) =>
      waitFor(() => lines[n], `output line ${n + 1}, got ${JSON.stringify(lines)}`, 10_000),
    async interrupt(): Promise<number> {
      stop.abort(new Error("interrupted"));
      return exit;
    },
  };
}

async function interrupt(child: ReturnType<typeof startCli>): Promise<number | null> {
  const exited = once(child, "exit");
  process.kill(child.pid!, "SIGINT");
  const [code] = (await exited) as [number | null];
  return code;
}

describe("conclave service", { timeout: 60_000 }, () => {
  it("registers a persistent instance, lists it, checks its health and deregisters it", async () => {
    const reg = await cli(
      "service",
      "register",
      "db",
      "db-1",
      "10.0.0.9:5432",
      "--persistent",
      "--meta",
      "zone=a",
      "--meta",
      "role=primary",
      "--weight",
      "5",
      "--check-tcp",
      "10.0.0.9:5432",
    );
    expect(reg).toEqual({
      code: 0,
      stdout: "registered db/db-1 at 10.0.0.9:5432 (persistent)\n",
      stderr: "",
    });

    const listed = await cli("service", "list", "db");
    expect(listed.code).toBe(0);
    expect(listed.stdout.split("\n")[0]).toMatch(
      /^ID\s+ADDRESS\s+STATUS\s+WEIGHT\s+KIND\s+METADATA$/,
    );
    expect(listed.stdout.split("\n")[1]).toMatch(
      /^db-1\s+10\.0\.0\.9:5432\s+passing\s+5\s+persistent\s+zone=a,role=primary$/,
    );
    const json = JSON.parse((await cli("service", "list", "db", "--json")).stdout) as {
      instances: { id: string; metadata: unknown; checks: unknown[] }[];
    };
    expect(json.instances).toEqual([
      expect.objectContaining({
        id: "db-1",
        metadata: { zone: "a", role: "primary" },
        checks: [expect.objectContaining({ kind: "tcp", host: "10.0.0.9", port: 5432 })],
      }),
    ]);
    const services = await cli("service", "list");
    expect(services.stdout).toMatch(/^SERVICE\s+INSTANCES\s+SERVED\ndb\s+1\s+1\n$/);
    expect(JSON.parse((await cli("service", "list", "--json")).stdout)).toEqual({
      services: [{ service: "db", instances: 1, served: 1 }],
    });

    const healthy = await cli("service", "health", "db");
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toMatch(/db-1\s+10\.0\.0\.9:5432\s+passing/);

    expect((await cli("service", "deregister", "db", "db-1")).stdout).toBe(
      "deregistered db/db-1\n",
    );
    expect(await cli("service", "deregister", "db", "db-1", "--json")).toEqual({
      code: 0,
      stdout: `${JSON.stringify({ service: "db", id: "db-1", deregistered: false })}\n`,
      stderr: "",
    });
    const unhealthy = await cli("service", "health", "db", "--json");
    expect(unhealthy.code).toBe(1);
    expect(JSON.parse(unhealthy.stdout)).toMatchObject({ service: "db", served: 0, instances: [] });
  });

  it("holds an instance until interrupted while a watcher prints each change", async () => {
    const watcher = startInProcess("service", "watch", "eph", "--json");
    const first = JSON.parse(await watcher.line(0)) as { instances: unknown[] };
    expect(first).toMatchObject({ service: "eph", instances: [] });

    const holder = startCli([
      "service",
      "register",
      "eph",
      "e1",
      "127.0.0.1:8000",
      "--ttl",
      "2",
      "--json",
      ...cluster.endpointsFlag,
    ]);
    const held = lineReader(holder);
    const registered = JSON.parse((await held.waitForLines(1))[0] ?? "") as Record<string, unknown>;
    expect(registered).toMatchObject({
      event: "registered",
      service: "eph",
      id: "e1",
      address: "127.0.0.1",
      port: 8000,
      persistent: false,
      leaseId: expect.any(Number),
    });
    const second = JSON.parse(await watcher.line(1)) as {
      instances: { id: string }[];
    };
    expect(second.instances.map((i) => i.id)).toEqual(["e1"]);
    const health = await cli("service", "health", "eph");
    expect(health.code).toBe(0);

    expect(await interrupt(holder)).toBe(0);
    expect(JSON.parse(held.lines[1] ?? "")).toEqual({
      event: "deregistered",
      service: "eph",
      id: "e1",
    });
    const third = JSON.parse(await watcher.line(2)) as { instances: unknown[] };
    expect(third.instances).toEqual([]);
    expect(await watcher.interrupt()).toBe(0);
    expect(watcher.lines).toHaveLength(3);
  });

  it("prints the watch for people, one line per change", async () => {
    const watcher = startInProcess("service", "watch", "people");
    expect(await watcher.line(0)).toMatch(/^revision \d+: \(none\)$/);
    await cli("service", "register", "people", "p1", "[::1]:81", "--persistent");
    expect(await watcher.line(1)).toMatch(/^revision \d+: p1@\[::1\]:81$/);
    await cli("service", "deregister", "people", "p1");
    expect(await watcher.line(2)).toMatch(/^revision \d+: \(none\)$/);
    expect(await watcher.interrupt()).toBe(0);
  });

  it("refuses bad input with its usage and exit status 2", async () => {
    const cases: [string[], string][] = [
      [
        ["register", "Upper", "i", "h:1", "--persistent"],
        "service name must be one lowercase DNS label",
      ],
      [["register", "s", "i", "h:0", "--persistent"], "port must be a port in [1, 65535]"],
      [["register", "s", "i", "h", "--persistent"], "ADDRESS:PORT must be HOST:PORT"],
      [["register", "s", "i", "h:1", "--check-http", "http://h/"], "need --persistent"],
      [["register", "s", "i", "h:1", "--persistent", "--ttl", "5"], "--ttl has no meaning"],
      [["register", "s", "i", "h:1", "--ttl", "1"], "--ttl must be an integer in 2..86400"],
      [["register", "s", "i", "h:1", "--meta", "novalue"], "--meta must be KEY=VALUE"],
      [["list", "Bad"], "service name must be"],
      [["health", "bad_name"], "service name must be"],
    ];
    for (const [args, message] of cases) {
      const res = await cli("service", ...args);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toContain(message);
      expect(res.stderr).toContain("Usage: conclave service");
    }
    expect((await cli("service", "list")).stdout).not.toContain("\ns ");
  });
});
