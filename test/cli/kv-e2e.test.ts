import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliCluster, startCliCluster } from "./cli-cluster.js";
import { runCli } from "./run-cli.js";

let cluster: CliCluster;
let endpoints: string[];

beforeAll(async () => {
  cluster = await startCliCluster();
  endpoints = cluster.endpointsFlag;
});
afterAll(async () => {
  await cluster.stop();
});

const cli = (args: string[], input?: string) =>
  runCli([...args, ...endpoints], input === undefined ? {} : { input });

describe("conclave put/get/del against a cluster", () => {
  it("writes, reads a range with every option, and deletes", async () => {
    expect(await cli(["put", "e2e/a", "1"])).toMatchObject({ code: 0, stdout: "OK\n" });
    const prev = await cli(["put", "e2e/a", "2", "--prev-kv"]);
    expect(prev.stdout).toBe("OK\ne2e/a\n1\n");
    await cli(["put", "e2e/b", "two words"]);

    expect((await cli(["get", "e2e/a"])).stdout).toBe("e2e/a\n2\n");
    expect((await cli(["get", "e2e/", "--prefix"])).stdout).toBe("e2e/a\n2\ne2e/b\ntwo words\n");
    const desc = await cli(["get", "e2e/", "--prefix", "--keys-only", "--sort-order", "DESC"]);
    expect(desc.stdout).toBe("e2e/b\ne2e/a\n");
    expect((await cli(["get", "e2e/", "--prefix", "--count-only"])).stdout).toBe("2\n");
    expect((await cli(["get", "e2e/a", "--range-end", "e2e/b", "--serializable"])).stdout).toBe(
      "e2e/a\n2\n",
    );

    const json = await cli(["get", "e2e/", "--prefix", "--limit", "1", "--json"]);
    const doc = JSON.parse(json.stdout) as { count: number; more: boolean; kvs: unknown[] };
    expect(doc.count).toBe(2);
    expect(doc.more).toBe(true);
    expect(doc.kvs).toEqual([
      expect.objectContaining({ key: "e2e/a", value: "2", version: 2, lease: 0 }),
    ]);

    // An older revision still shows the first value.
    const first = (doc.kvs[0] as { createRevision: number }).createRevision;
    expect((await cli(["get", "e2e/a", "--rev", String(first)])).stdout).toBe("e2e/a\n1\n");

    const del = await cli(["del", "e2e/", "--prefix", "--prev-kv"]);
    expect(del.stdout).toBe("2\ne2e/a\n2\ne2e/b\ntwo words\n");
    expect((await cli(["get", "e2e/", "--prefix"])).stdout).toBe("");
  });

  it("runs a txn read from stdin, taking the success branch then the failure branch", async () => {
    const text = 'mod("e2e/tx") = 0\n\nput e2e/tx "first value"\n\nget e2e/tx\n';
    const ok = await cli(["txn"], text);
    expect(ok).toMatchObject({ code: 0, stdout: "SUCCESS\n\nOK\n" });
    const again = await cli(["txn"], text);
    expect(again.stdout).toBe("FAILURE\n\ne2e/tx\nfirst value\n");
    const json = await cli(["txn", "--json"], 'value("e2e/tx") = "first value"\n\ndel e2e/tx\n');
    expect(JSON.parse(json.stdout)).toMatchObject({
      succeeded: true,
      responses: [{ type: "delete", deleted: 1 }],
    });
  });

  it("grants, inspects, lists, keeps alive and revokes a lease", async () => {
    const grant = await cli(["lease", "grant", "60", "--json"]);
    expect(grant.code).toBe(0);
    const { id } = JSON.parse(grant.stdout) as { id: number };
    expect((await cli(["put", "e2e/leased", "x", "--lease", String(id)])).code).toBe(0);

    const ttl = await cli(["lease", "ttl", String(id), "--keys"]);
    expect(ttl.stdout).toMatch(
      new RegExp(
        `^lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[e2e/leased\\]\\)\\n$`,
      ),
    );
    expect((await cli(["lease", "list"])).stdout).toContain(`\n${id}\n`);
    const kept = await cli(["lease", "keepalive", String(id), "--once"]);
    expect(kept.stdout).toBe(`lease ${id} keepalived with TTL(60s)\n`);

    expect((await cli(["lease", "revoke", String(id)])).stdout).toBe(`lease ${id} revoked\n`);
    expect((await cli(["get", "e2e/leased"])).stdout).toBe("");
    const gone = await cli(["lease", "ttl", String(id)]);
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
});
