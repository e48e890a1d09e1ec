import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliCluster, startCliCluster } from "./cli-cluster.js";
import { runCli, runInProcess } from "./run-cli.js";

let cluster: CliCluster;
let endpoints: string[];

beforeAll(async () => {
  cluster = await startCliCluster();
  endpoints = cluster.endpointsFlag;
});
afterAll(async () => {
  await cluster.stop();
});

/** The `conclave` binary as a child process. */
const cli = (args: string[], input?: string) =>
  runCli([...args, ...endpoints], input === undefined ? {} : { input });
/** The same command run in this process (no start-up cost) for the many-variant checks. */
const run = (args: string[], input?: string) => runInProcess([...args, ...endpoints], input);

describe("conclave put/get/del against a cluster", { timeout: 120_000 }, () => {
  it("writes, reads and deletes through the binary", async () => {
    expect(await cli(["put", "e2e/a", "1"])).toMatchObject({ code: 0, stdout: "OK\n" });
    const prev = await cli(["put", "e2e/a", "2", "--prev-kv"]);
    expect(prev.stdout).toBe("OK\ne2e/a\n1\n");
    await run(["put", "e2e/b", "two words"]);
    expect((await cli(["get", "e2e/", "--prefix"])).stdout).toBe("e2e/a\n2\ne2e/b\ntwo words\n");
    const del = await cli(["del", "e2e/", "--prefix", "--prev-kv"]);
    expect(del.stdout).toBe("2\ne2e/a\n2\ne2e/b\ntwo words\n");
    expect((await run(["get", "e2e/", "--prefix"])).stdout).toBe("");
  });

  it("reads ranges with every get option", async () => {
    await run(["put", "opt/a", "1"]);
    await run(["put", "opt/a", "2"]);
    await run(["put", "opt/b", "3"]);
    const get = async (...args: string[]) => (await run(["get", ...args])).stdout;
    expect(await get("opt/a")).toBe("opt/a\n2\n");
    expect(await get("opt/", "--prefix", "--keys-only", "--sort-order", "DESC")).toBe(
      "opt/b\nopt/a\n",
    );
    expect(await get("opt/", "--prefix", "--sort-target", "VALUE", "--sort-order", "DESC")).toBe(
      "opt/b\n3\nopt/a\n2\n",
    );
    expect(await get("opt/", "--prefix", "--count-only")).toBe("2\n");
    expect(await get("opt/a", "--range-end", "opt/b", "--serializable")).toBe("opt/a\n2\n");
    expect(await get("opt/b", "--from-key")).toBe("opt/b\n3\n");

    const doc = JSON.parse(await get("opt/", "--prefix", "--limit", "1", "--json")) as {
      count: number;
      more: boolean;
      kvs: { createRevision: number }[];
    };
    expect(doc.count).toBe(2);
    expect(doc.more).toBe(true);
    expect(doc.kvs).toEqual([
      expect.objectContaining({ key: "opt/a", value: "2", version: 2, lease: 0 }),
    ]);
    // The key's first value is still readable at the revision that created it.
    expect(await get("opt/a", "--rev", String(doc.kvs[0]!.createRevision))).toBe("opt/a\n1\n");
  });

  it("reads every key with an empty prefix or from the empty key, as etcdctl does", async () => {
    await run(["put", "all/x", "1"]);
    const prefixed = (await run(["get", "", "--prefix", "--keys-only"])).stdout.split("\n");
    const fromKey = (await run(["get", "", "--from-key", "--keys-only"])).stdout.split("\n");
    expect(prefixed).toContain("all/x");
    expect(fromKey).toEqual(prefixed);
    const counted = Number((await run(["get", "", "--prefix", "--count-only"])).stdout);
    expect(counted).toBe(prefixed.filter((k) => k !== "").length);
  });

  it("runs a txn read from stdin, taking the success branch then the failure branch", async () => {
    const text = 'mod("e2e/tx") = 0\n\nput e2e/tx "first value"\n\nget e2e/tx\n';
    expect(await cli(["txn"], text)).toMatchObject({ code: 0, stdout: "SUCCESS\n\nOK\n" });
    expect((await run(["txn"], text)).stdout).toBe("FAILURE\n\ne2e/tx\nfirst value\n");
    const json = await run(["txn", "--json"], 'value("e2e/tx") = "first value"\n\ndel e2e/tx\n');
    expect(JSON.parse(json.stdout)).toMatchObject({
      succeeded: true,
      responses: [{ type: "delete", deleted: 1 }],
    });
  });

  it("grants, inspects, lists, keeps alive and revokes a lease", async () => {
    const grant = await cli(["lease", "grant", "60", "--json"]);
    expect(grant.code).toBe(0);
    const { id } = JSON.parse(grant.stdout) as { id: number };
    expect((await run(["put", "e2e/leased", "x", "--lease", String(id)])).code).toBe(0);

    const ttl = await run(["lease", "ttl", String(id), "--keys"]);
    expect(ttl.stdout).toMatch(
      new RegExp(
        `^lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[e2e/leased\\]\\)\\n$`,
      ),
    );
    expect((await run(["lease", "list"])).stdout).toContain(`\n${id}\n`);
    const kept = await run(["lease", "keepalive", String(id), "--once"]);
    expect(kept.stdout).toBe(`lease ${id} keepalived with TTL(60s)\n`);

    expect((await run(["lease", "revoke", String(id)])).stdout).toBe(`lease ${id} revoked\n`);
    expect((await run(["get", "e2e/leased"])).stdout).toBe("");
    const gone = await run(["lease", "ttl", String(id)]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^conclave: KV_LEASE_NOT_FOUND: /);
  });

  it("reports a server error as CODE: message with exit code 1", async () => {
    const res = await cli(["lease", "revoke", "987654321"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^conclave: KV_LEASE_NOT_FOUND: .+\n$/);
  });

  it("reports an unreachable cluster with exit code 1", async () => {
    const res = await runCli(["get", "k", "--endpoints", "http://127.0.0.1:9", "--timeout", "300"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^conclave: (UNAVAILABLE|DEADLINE_EXCEEDED): /);
  });

  it("rejects a bad flag with the usage and exit code 2 before contacting anyone", async () => {
    const res = await cli(["get", "k", "--limit", "many"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(
      /^conclave get: --limit must be an integer >= 0, got "many"\n\nUsage: conclave get KEY/,
    );
  });
});
