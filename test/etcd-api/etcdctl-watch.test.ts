import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait-for.js";
import { ETCDCTL, type GrpcCluster, parseExact, startGrpcCluster } from "./grpc-cluster.js";

/** A long-running `etcdctl watch`, its output read as it comes. */
interface WatchProcess {
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves once stdout holds `lines` lines. */
  lines(count: number): Promise<string[]>;
  /** Resolves with the first `count` lines as printed, each with its newline. */
  text(count: number): Promise<string>;
  exited(): Promise<number>;
}

describe("etcdctl watch against Conclave's gRPC API", () => {
  let cluster: GrpcCluster;
  const children: ChildProcess[] = [];

  /** `input` is written to stdin, which stays open (interactive mode ends at its EOF). */
  function watch(args: readonly string[], endpoint: string, input?: string): WatchProcess {
    const child = spawn(
      ETCDCTL,
      [`--endpoints=${endpoint}`, "--dial-timeout=5s", "watch", ...args],
      {
        env: { ...process.env, ETCDCTL_API: "3" },
        stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      },
    );
    children.push(child);
    if (input !== undefined) child.stdin!.write(input);
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const exit = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
    return {
      stdout: () => out,
      stderr: () => err,
      async lines(count) {
        await waitFor(
          () => out.split("\n").length > count,
          `${count} lines from etcdctl watch`,
          10_000,
        );
        return out.split("\n").slice(0, count);
      },
      async text(count) {
        return `${(await this.lines(count)).join("\n")}\n`;
      },
      exited: () => exit,
    };
  }

  /** etcdctl watch has no "ready" line: a put made before its watch exists would be missed. */
  const watching = (n: number) =>
    waitFor(
      () => cluster.members.reduce((sum, m) => sum + m.store.watcherCount, 0) >= n,
      `${n} watchers`,
      10_000,
    );

  beforeAll(async () => {
    cluster = await startGrpcCluster();
    await cluster.leader();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await gone;
      }
    }
    await waitFor(
      () => cluster.members.every((m) => m.store.watcherCount === 0),
      "watchers released",
      10_000,
    );
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it("prints puts and deletes of a key, and of a prefix with --prev-kv, as etcd does", async () => {
    const follower = (await cluster.followers())[0]!;
    const at = cluster.grpcAddressOf(follower.id);
    const key = watch(["w/a"], at);
    const prefixed = watch(["w/", "--prefix", "--prev-kv"], at);
    await watching(2);
    await cluster.etcdctl(["put", "w/a", "1"]);
    await cluster.etcdctl(["put", "w/a", "2"]);
    await cluster.etcdctl(["put", "w/b", "x"]);
    await cluster.etcdctl(["del", "w/a"]);
    // etcd 3.4 prints exactly these for the same commands.
    expect(await key.text(9)).toBe("PUT\nw/a\n1\nPUT\nw/a\n2\nDELETE\nw/a\n\n");
    expect(await prefixed.text(16)).toBe(
      "PUT\nw/a\n1\nPUT\nw/a\n1\nw/a\n2\nPUT\nw/b\nx\nDELETE\nw/a\n2\nw/a\n\n",
    );
  });

  it("runs several watches on one stream in interactive mode", async () => {
    const interactive = watch(
      ["-i"],
      cluster.grpcAddresses[1]!,
      "watch i/a\nwatch i/b --prev-kv\n",
    );
    await watching(2);
    await cluster.etcdctl(["put", "i/a", "1"]);
    await cluster.etcdctl(["put", "i/b", "2"]);
    await cluster.etcdctl(["put", "i/b", "3"]);
    // etcd 3.4 prints exactly these for the same commands.
    expect(await interactive.text(11)).toBe("PUT\ni/a\n1\nPUT\ni/b\n2\nPUT\ni/b\n2\ni/b\n3\n");
  });

  it("replays from --rev and prints -w json as etcd does", async () => {
    const put = parseExact((await cluster.etcdctl(["put", "r/k", "1", "-w", "json"])).stdout);
    const first = Number((put["header"] as Record<string, unknown>)["revision"]);
    await cluster.etcdctl(["put", "r/k", "2"]);
    await cluster.etcdctl(["del", "r/k"]);
    const replay = watch(["r/k", `--rev=${first}`], cluster.grpcAddresses[0]!);
    expect(await replay.text(9)).toBe("PUT\nr/k\n1\nPUT\nr/k\n2\nDELETE\nr/k\n\n");

    const json = watch(["r/k", "-w", "json"], cluster.grpcAddresses[2]!);
    await watching(2);
    await cluster.etcdctl(["put", "r/k", "3"]);
    await cluster.etcdctl(["del", "r/k"]);
    const [putLine, delLine] = await json.lines(2);
    const putResponse = parseExact(putLine!);
    expect(Object.keys(putResponse)).toEqual([
      "Header",
      "Events",
      "CompactRevision",
      "Canceled",
      "Created",
    ]);
    expect(putResponse).toMatchObject({ CompactRevision: 0, Canceled: false, Created: false });
    const header = putResponse["Header"] as Record<string, unknown>;
    expect(Object.keys(header)).toEqual(["cluster_id", "member_id", "revision", "raft_term"]);
    expect(header["member_id"]).toBe(3);
    const [putEvent] = putResponse["Events"] as Record<string, Record<string, unknown>>[];
    const revision = header["revision"];
    expect(putEvent).toEqual({
      kv: {
        key: Buffer.from("r/k").toString("base64"),
        create_revision: revision,
        mod_revision: revision,
        version: 1,
        value: Buffer.from("3").toString("base64"),
      },
    });
    const [delEvent] = parseExact(delLine!)["Events"] as Record<string, unknown>[];
    expect(delEvent).toEqual({
      type: 1,
      kv: { key: Buffer.from("r/k").toString("base64"), mod_revision: (revision as number) + 1 },
    });
  });

  it("ends a watch from a compacted revision with etcd's message", async () => {
    const put = parseExact((await cluster.etcdctl(["put", "c/k", "1", "-w", "json"])).stdout);
    const first = Number((put["header"] as Record<string, unknown>)["revision"]);
    const last = parseExact((await cluster.etcdctl(["put", "c/k", "2", "-w", "json"])).stdout);
    const lastRevision = Number((last["header"] as Record<string, unknown>)["revision"]);
    expect((await cluster.etcdctl(["compaction", String(lastRevision)])).code).toBe(0);
    const leader = await cluster.leader();
    const compacted = watch(["c/k", `--rev=${first}`], cluster.grpcAddressOf(leader.id));
    // etcd 3.4 exits 5 with exactly this on stderr, nothing on stdout.
    expect(await compacted.exited()).toBe(5);
    expect(compacted.stdout()).toBe("");
    expect(compacted.stderr()).toBe(
      "watch was canceled (etcdserver: mvcc: required revision has been compacted)\n" +
        "Error: watch is canceled by the server\n",
    );
  });
});
