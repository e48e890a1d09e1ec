import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  b64,
  eventually,
  initialCluster,
  planMembers,
  post,
  ServeProcess,
  tempRoot,
} from "./serve-process.js";

const root = tempRoot();
const started: ServeProcess[] = [];

afterAll(async () => {
  for (const p of started) p.kill();
  await Promise.all(started.map((p) => p.exited));
  root.remove();
});

async function startMember(...args: Parameters<typeof ServeProcess.start>): Promise<ServeProcess> {
  const p = await ServeProcess.start(...args);
  started.push(p);
  return p;
}

describe("a data directory held by a running member", () => {
  it("refuses a second process before it touches any file, and frees itself on kill -9", async () => {
    const [member] = await planMembers(root.path, ["n1"]);
    if (member === undefined) throw new Error("no member planned");
    const cluster = ["--initial-cluster", initialCluster([member])];
    const first = await startMember(member, cluster);
    const put = await eventually(async () => {
      const r = await post(member.clientUrl, "/v3/kv/put", { key: b64("k"), value: b64("v1") });
      return r.status === 200 ? r : undefined;
    }, "a write to be acknowledged");
    expect(put.status).toBe(200);

    // A leftover of an interrupted write: opening a directory removes these,
    // so a refused process must not get that far.
    const leftover = join(member.dataDir, "wal-0000000000000099.tmp");
    writeFileSync(leftover, "partial");
    // The same settings, ports included: the directory must be refused before the ports are tried.
    const second = ServeProcess.spawn(ServeProcess.args(member, cluster));
    started.push(second);
    expect(await second.exited).toBe(1);
    expect(second.output).toContain(
      `data directory ${member.dataDir} is in use by another process (PID ${first.child.pid})`,
    );
    expect(existsSync(leftover)).toBe(true);
    const stillServing = await post(member.clientUrl, "/v3/kv/range", { key: b64("k") });
    expect(stillServing.status).toBe(200);

    first.kill();
    await first.exited;
    const restarted = await startMember(member, cluster);
    const read = await eventually(async () => {
      const r = await post(member.clientUrl, "/v3/kv/range", { key: b64("k") });
      return r.status === 200 ? r : undefined;
    }, "the restarted member to serve reads");
    const kvs = read.body["kvs"] as { value: string }[];
    expect(kvs.map((kv) => kv.value)).toEqual([b64("v1")]);
    expect(existsSync(leftover)).toBe(false);
    await restarted.terminate();
  }, 120_000);
});
