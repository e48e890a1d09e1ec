import { describe, expect, it } from "vitest";
import { type RunDeps, runClientCommand } from "../../src/cli/client-commands.js";
import type { CliClient, KeyValueView } from "../../src/cli/client-port.js";
import { printRange } from "../../src/cli/commands/kv.js";
import { allHealthy, assessReports, printStatus } from "../../src/cli/commands/status.js";
import { printTxn } from "../../src/cli/commands/txn.js";
import { printWatchEvent } from "../../src/cli/commands/watch.js";
import { bytesJson, createOutput, displayBytes, type Output, table } from "../../src/cli/output.js";
import { ClientError } from "../../src/client/index.js";

const utf8 = (s: string) => new TextEncoder().encode(s);

function kv(
  key: string | Uint8Array,
  value: string | Uint8Array,
  extra: Partial<KeyValueView> = {},
): KeyValueView {
  return {
    key: typeof key === "string" ? utf8(key) : key,
    value: typeof value === "string" ? utf8(value) : value,
    createRevision: 2,
    modRevision: 3,
    version: 2,
    lease: 0,
    ...extra,
  };
}

function capture(json: boolean): { out: Output; text: () => string } {
  let text = "";
  return { out: createOutput(json, (t) => (text += t)), text: () => text };
}

describe("bytes for people and for machines", () => {
  it("shows printable UTF-8 as text and anything else as marked base64", () => {
    expect(displayBytes(utf8("héllo\tworld\nline 2"))).toBe("héllo\tworld\nline 2");
    expect(displayBytes(new Uint8Array([0, 1, 255]))).toBe("(base64) AAH/");
    expect(displayBytes(utf8("bell\u0007"))).toBe("(base64) YmVsbAc=");
    expect(displayBytes(new Uint8Array([0xc3]))).toBe("(base64) ww==");
  });

  it("keeps JSON lossless: text when valid UTF-8, else a Base64 field", () => {
    expect(bytesJson("key", utf8("a\u0000b"))).toEqual({ key: "a\u0000b" });
    expect(bytesJson("value", new Uint8Array([0xff]))).toEqual({ valueBase64: "/w==" });
  });

  it("pads table columns to the widest cell", () => {
    expect(
      table(
        ["ID", "NAME"],
        [
          ["1", "alpha"],
          ["200", "b"],
        ],
      ),
    ).toBe("ID   NAME\n1    alpha\n200  b\n");
  });
});

describe("result printing", () => {
  const range = {
    revision: 9,
    count: 2,
    more: false,
    kvs: [kv("a", "1"), kv(new Uint8Array([0xfe]), "2")],
  };

  it("prints a range as key and value lines, keys only, or a count", () => {
    const human = capture(false);
    printRange(human.out, range);
    expect(human.text()).toBe("a\n1\n(base64) /g==\n2\n");
    const keys = capture(false);
    printRange(keys.out, range, true);
    expect(keys.text()).toBe("a\n(base64) /g==\n");
    const count = capture(false);
    printRange(count.out, range, false, true);
    expect(count.text()).toBe("2\n");
  });

  it("prints a range as one JSON document", () => {
    const json = capture(true);
    printRange(json.out, range);
    expect(json.text().endsWith("\n")).toBe(true);
    expect(json.text().trim().includes("\n")).toBe(false);
    expect(JSON.parse(json.text())).toEqual({
      revision: 9,
      count: 2,
      more: false,
      kvs: [
        { key: "a", value: "1", createRevision: 2, modRevision: 3, version: 2, lease: 0 },
        { keyBase64: "/g==", value: "2", createRevision: 2, modRevision: 3, version: 2, lease: 0 },
      ],
    });
  });

  it("prints a txn's branch and each response", () => {
    const result = {
      revision: 10,
      succeeded: false,
      responses: [
        { type: "put" as const, revision: 10 },
        { type: "range" as const, ...range },
        { type: "delete" as const, revision: 10, deleted: 3, prevKvs: [] },
      ],
    };
    const human = capture(false);
    printTxn(human.out, result);
    expect(human.text()).toBe("FAILURE\n\nOK\n\na\n1\n(base64) /g==\n2\n\n3\n");
    const json = capture(true);
    printTxn(json.out, result);
    expect(JSON.parse(json.text())).toMatchObject({
      succeeded: false,
      revision: 10,
      responses: [
        { type: "put", revision: 10 },
        { type: "range", count: 2 },
        { type: "delete", deleted: 3 },
      ],
    });
  });

  it("prints watch events like etcdctl, or one JSON line each", () => {
    const human = capture(false);
    printWatchEvent(human.out, 5, { type: "put", kv: kv("k", "new"), prevKv: kv("k", "old") });
    printWatchEvent(human.out, 6, { type: "delete", kv: kv("k", "") });
    expect(human.text()).toBe("PUT\nk\nold\nk\nnew\nDELETE\nk\n");
    const json = capture(true);
    printWatchEvent(json.out, 6, { type: "delete", kv: kv("k", "") });
    expect(JSON.parse(json.text())).toMatchObject({
      type: "DELETE",
      revision: 6,
      kv: { key: "k" },
    });
  });

  it("prints a status table with a row per endpoint, failures included", () => {
    const status = {
      version: "0.1.0",
      memberId: 2,
      leader: 2,
      raftTerm: 3,
      raftIndex: 40,
      raftAppliedIndex: 39,
      isLearner: false,
      revision: 17,
      compactRevision: 0,
      keyCount: 4,
    };
    const human = capture(false);
    printStatus(human.out, [
      { endpoint: "http://a:1", status, name: "n2" },
      { endpoint: "http://b:2", error: { code: "UNAVAILABLE", message: "refused" } },
    ]);
    const [head, row, failed] = human.text().split("\n");
    expect(head?.split(/\s{2,}/)).toEqual([
      "ENDPOINT",
      "ID",
      "NAME",
      "IS LEADER",
      "LEADER",
      "TERM",
      "RAFT INDEX",
      "RAFT APPLIED",
      "REVISION",
      "IS LEARNER",
      "ERROR",
    ]);
    expect(row?.split(/\s{2,}/)).toEqual([
      "http://a:1",
      "2",
      "n2",
      "true",
      "2",
      "3",
      "40",
      "39",
      "17",
      "false",
    ]);
    expect(failed).toMatch(/^http:\/\/b:2\s+UNAVAILABLE: refused$/);
  });
});

describe("assessReports", () => {
  const base = {
    version: "0.1.0",
    leader: 1,
    raftTerm: 3,
    isLearner: false,
    revision: 17,
    compactRevision: 0,
    keyCount: 4,
  };
  const at = (memberId: number, raftIndex: number, applied: number, errors: string[] = []) => ({
    endpoint: `http://m${memberId}:1`,
    name: `n${memberId}`,
    status: { ...base, memberId, raftIndex, raftAppliedIndex: applied, errors },
  });

  it("reports a member lagging past --max-lag behind the highest commit seen, and its own errors", () => {
    const reports = assessReports(
      [at(1, 5000, 5000), at(2, 4990, 3999), at(3, 4000, 4000, ["etcdserver: no leader"])],
      1000,
    );
    const problems = reports.map((r) => ("problems" in r ? r.problems : undefined));
    expect(problems[0]).toEqual([]);
    expect(problems[1]).toEqual([
      "lagging: applied index 3999 is 1001 entries behind commit index 5000",
    ]);
    // Exactly max-lag behind is not lagging; its own error is reported.
    expect(problems[2]).toEqual(["etcdserver: no leader"]);
    expect(allHealthy(reports)).toBe(false);
    expect(allHealthy(assessReports([at(1, 5000, 5000), at(2, 4990, 4000)], 1000))).toBe(true);
    // An endpoint that did not answer is never healthy.
    expect(
      allHealthy(
        assessReports(
          [at(1, 1, 1), { endpoint: "http://x:1", error: { code: "UNAVAILABLE", message: "" } }],
          1000,
        ),
      ),
    ).toBe(false);
  });

  it("prints the problems in the ERROR column", () => {
    const human = capture(false);
    printStatus(human.out, assessReports([at(1, 100, 100), at(2, 100, 10, ["x"])], 50));
    const rows = human.text().split("\n");
    expect(rows[1]).not.toMatch(/lagging|x$/);
    expect(rows[2]).toMatch(/x; lagging: applied index 10 is 90 entries behind commit index 100$/);
  });
});

describe("runClientCommand", () => {
  function deps(
    client: Partial<CliClient>,
    stdin = "",
  ): RunDeps & { out: () => string; err: () => string; connects: () => number } {
    let out = "";
    let err = "";
    let connects = 0;
    return {
      stdout: (t) => (out += t),
      stderr: (t) => (err += t),
      env: {},
      readStdin: async () => stdin,
      connect: () => {
        connects++;
        return { close: async () => {}, ...client } as CliClient;
      },
      signal: new AbortController().signal,
      out: () => out,
      err: () => err,
      connects: () => connects,
    };
  }

  it("answers a usage error with the command's usage and exit 2, without connecting", async () => {
    const d = deps({});
    expect(await runClientCommand(["put", "k"], d)).toBe(2);
    expect(d.err()).toMatch(
      /^conclave put: missing argument VALUE\n\nUsage: conclave put KEY VALUE/,
    );
    expect(d.connects()).toBe(0);
    expect(await runClientCommand(["lease", "grant", "soon"], d)).toBe(2);
    expect(d.err()).toContain(
      'conclave lease grant: TTL must be an integer in 1..9000000000, got "soon"',
    );
    expect(await runClientCommand(["member", "frob"], d)).toBe(2);
    expect(d.err()).toContain('conclave member: unknown subcommand "frob"');
  });

  it("prints help for commands, subcommands and groups with exit 0", async () => {
    for (const argv of [
      ["get", "--help"],
      ["lease", "ttl", "-h"],
      ["snapshot", "--help"],
    ]) {
      const d = deps({});
      expect(await runClientCommand(argv, d)).toBe(0);
      expect(d.out()).toMatch(/^Usage: conclave /);
    }
  });

  it("answers a server error as CODE: message with exit 1", async () => {
    const d = deps({
      put: async () => {
        throw new ClientError("KV_VALUE_TOO_LARGE", "value is 2000000 bytes, the limit is 1048576");
      },
    });
    expect(await runClientCommand(["put", "k", "v"], d)).toBe(1);
    expect(d.err()).toBe(
      "conclave: KV_VALUE_TOO_LARGE: value is 2000000 bytes, the limit is 1048576\n",
    );
  });

  it("keeps a lease alive until interrupted, and fails once the lease is gone", async () => {
    const stop = new AbortController();
    let calls = 0;
    const alive = {
      ...deps({
        leaseKeepAliveOnce: async (id) => {
          calls++;
          if (calls === 2) stop.abort();
          return { id, ttlSeconds: 3 };
        },
      }),
      signal: stop.signal,
    };
    expect(await runClientCommand(["lease", "keepalive", "5"], alive)).toBe(0);
    expect(alive.out()).toBe("lease 5 keepalived with TTL(3s)\nlease 5 keepalived with TTL(3s)\n");

    const gone = deps({ leaseKeepAliveOnce: async (id) => ({ id, ttlSeconds: 0 }) });
    expect(await runClientCommand(["lease", "keepalive", "5"], gone)).toBe(1);
    expect(gone.err()).toBe("conclave: KV_LEASE_NOT_FOUND: lease 5 has expired or was revoked\n");
  });

  it("answers a call interrupted by SIGINT with exit 130", async () => {
    const stop = new AbortController();
    const d = {
      ...deps({
        range: async () => {
          stop.abort();
          throw new ClientError("ABORTED", "the call was aborted");
        },
      }),
      signal: stop.signal,
    };
    expect(await runClientCommand(["get", "k"], d)).toBe(130);
    expect(d.err()).toBe("conclave: interrupted\n");
    expect(await runClientCommand(["--constructor", "get", "k"], deps({}))).toBe(2);
  });

  it("passes parsed requests to the client", async () => {
    const seen: unknown[] = [];
    const d = deps(
      {
        txn: async (request) => {
          seen.push(request);
          return { revision: 4, succeeded: true, responses: [{ type: "put", revision: 4 }] };
        },
      },
      'create("k") = 0\n\nput k v\n',
    );
    expect(await runClientCommand(["--json", "txn"], d)).toBe(0);
    expect(seen).toEqual([
      {
        compare: [{ key: "k", result: "equal", target: "create", value: 0 }],
        success: [{ type: "put", key: "k", value: "v" }],
        failure: [],
      },
    ]);
    expect(JSON.parse(d.out())).toEqual({
      succeeded: true,
      revision: 4,
      responses: [{ type: "put", revision: 4 }],
    });
  });
});
