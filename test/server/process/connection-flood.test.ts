import { readdirSync } from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  b64,
  eventually,
  type MemberPlan,
  planMembers,
  post,
  ServeProcess,
  tempRoot,
} from "./serve-process.js";

/** The member's fd limit: low, so a flood of twice as many connections would exhaust it. */
const FD_LIMIT = 256;
const FLOOD_CONNECTIONS = 2 * FD_LIMIT;
const SNAPSHOT_EVERY_ENTRIES = 20;

const root = tempRoot();
let member: MemberPlan;
let serve: ServeProcess;
const flood: net.Socket[] = [];

beforeAll(async () => {
  const [plan] = await planMembers(root.path, ["flooded"]);
  member = plan!;
  serve = await ServeProcess.start(
    member,
    [
      "--headers-timeout-ms",
      "1000",
      "--request-receive-timeout-ms",
      "2000",
      "--snapshot-every-entries",
      String(SNAPSHOT_EVERY_ENTRIES),
      "--snapshot-catch-up-entries",
      "5",
    ],
    {},
    ["prlimit", `--nofile=${FD_LIMIT}:${FD_LIMIT}`, "--"],
  );
}, 90_000);

afterAll(async () => {
  for (const s of flood) s.destroy();
  await serve?.terminate();
  root.remove();
});

/** Opens a connection that sends half a request head and then nothing; resolves once it settled. */
function slowClient(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    flood.push(socket);
    // Reading lets the socket see the member's answer (408) and its close.
    socket.resume();
    socket.on("error", () => resolve());
    socket.on("close", () => resolve());
    socket.on("connect", () => {
      socket.write("POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: app");
      resolve();
    });
  });
}

function allClosed(): boolean {
  return flood.every((s) => s.destroyed || s.closed);
}

describe("a member under a flood of idle client connections", () => {
  it("refuses what would exhaust its descriptors, keeps snapshotting and serves once the flood times out", async () => {
    const url = member.clientUrl;
    await eventually(async () => {
      const r = await post(url, "/v3/kv/put", { key: b64("before"), value: b64("flood") });
      return r.status === 200 ? r : undefined;
    }, "a first write (the member elects itself)");

    await Promise.all(
      Array.from({ length: FLOOD_CONNECTIONS }, () => slowClient(member.clientPort)),
    );

    // Writes during the flood: each may be refused while the flood holds this host's slots,
    // so each is retried until the flood's connections time out.
    for (let i = 0; i < 3 * SNAPSHOT_EVERY_ENTRIES; i++) {
      await eventually(async () => {
        const r = await post(url, "/v3/kv/put", { key: b64(`k${i}`), value: b64("v") });
        return r.status === 200 ? r : undefined;
      }, `put k${i}`);
    }
    await eventually(
      async () => (allClosed() ? true : undefined),
      "the flood to be closed",
      10_000,
    );

    expect(serve.child.exitCode).toBeNull();
    const status = await post(url, "/v3/kv/range", { key: b64("k"), range_end: b64("l") });
    expect(status.body["count"]).toBe(String(3 * SNAPSHOT_EVERY_ENTRIES));
    const health = await fetch(`${url}/status`).then(
      (r) => r.json() as Promise<{ snapshotIndex: number }>,
    );
    expect(health.snapshotIndex).toBeGreaterThanOrEqual(2 * SNAPSHOT_EVERY_ENTRIES);
    expect(readdirSync(member.dataDir, { recursive: true }).join(" ")).toMatch(/snap/);
    expect(serve.output).not.toContain("EMFILE");
    // Refusals are logged, but rate-limited: hundreds refused, a handful of lines.
    const refusals = serve.output.split("\n").filter((l) => l.includes("connection refused"));
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.length).toBeLessThan(5);
    expect(serve.output).toContain("the open-file limit is low");
  }, 60_000);
});
