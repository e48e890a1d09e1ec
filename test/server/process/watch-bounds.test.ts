import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastErrorCode, openRawWatch, type RawWatch } from "../raw-watch.js";
import {
  b64,
  eventually,
  initialCluster,
  type MemberPlan,
  planMembers,
  post,
  ServeProcess,
  tempRoot,
  untilWritable,
} from "./serve-process.js";

const MiB = 1024 * 1024;
const WATCHERS = 50;
const root = tempRoot();
let member: MemberPlan;
let serve: ServeProcess | undefined;

async function activeWatchers(): Promise<number> {
  const text = await (await fetch(`${member.clientUrl}/metrics`)).text();
  const line = /^conclave_watchers_active (\d+)$/m.exec(text);
  if (line === null) throw new Error("no conclave_watchers_active in /metrics");
  return Number(line[1]);
}

beforeAll(async () => {
  [member] = (await planMembers(root.path, ["n1"])) as [MemberPlan];
  serve = await ServeProcess.start(member, [
    "--initial-cluster",
    initialCluster([member]),
    "--max-watch-buffer-bytes",
    String(2 * MiB),
    "--max-total-watch-bytes",
    String(16 * MiB),
    // The test reads every stream only once all were cut.
    "--watch-end-grace-ms",
    "60000",
  ]);
}, 120_000);

afterAll(async () => {
  await serve?.terminate();
  root.remove();
});

describe("conclave serve with watchers that never read", () => {
  it("tells each WATCH_TOO_SLOW and cuts it, answering status and writes meanwhile", async () => {
    await untilWritable(member.clientUrl);
    const watchers: RawWatch[] = [];
    for (let i = 0; i < WATCHERS; i++) {
      // Two source addresses, one host: both count under the loopback quota.
      watchers.push(
        await openRawWatch(member.clientPort, { key: b64("big") }, `127.0.0.${1 + (i % 2)}`),
      );
    }
    await eventually(
      async () => ((await activeWatchers()) === WATCHERS ? true : undefined),
      "the watchers to register",
    );
    const value = Buffer.alloc(MiB, 1).toString("base64");
    // Bounded: each stream's kernel buffers take a few MB before the server's budget applies.
    for (let i = 0; i < 40 && (await activeWatchers()) > 0; i++) {
      expect((await post(member.clientUrl, "/v3/kv/put", { key: b64("big"), value })).status).toBe(
        200,
      );
      const status = await fetch(`${member.clientUrl}/status`, {
        signal: AbortSignal.timeout(10_000),
      });
      expect(status.status).toBe(200);
    }
    expect(await activeWatchers()).toBe(0);
    const tails = await Promise.all(watchers.map((w) => w.readTail(64 * 1024, 30_000)));
    for (const tail of tails) expect(lastErrorCode(tail)).toBe("WATCH_TOO_SLOW");
    expect(serve!.child.exitCode).toBeNull();
  }, 60_000);
});
