import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { describe, expect, it } from "vitest";
import { parseCommand, UsageError } from "../../src/cli/args.js";
import { runClientCommand } from "../../src/cli/client-commands.js";
import { getSpec } from "../../src/cli/commands/kv-requests.js";
import { describeRange } from "../../src/cli/commands/role.js";
import { connect } from "../../src/cli/connect.js";
import type { PasswordPrompt } from "../../src/cli/connection-flags.js";
import { clientConnectionOptions } from "../../src/cli/connection-flags.js";
import { fakeAuthServers } from "../client/fake-auth-server.js";
import { makeTlsFiles } from "../raft/transport/helpers.js";

const serve = fakeAuthServers();
const b64 = (s: string) => Buffer.from(s).toString("base64");
const bytes = (s: string) => new Uint8Array(Buffer.from(s));

interface Run {
  readonly env?: Record<string, string>;
  readonly stdin?: string;
  /** Answers to terminal prompts, in order; absent: standard input is not a terminal. */
  readonly typed?: string[];
}

async function cli(args: string[], run: Run = {}) {
  let stdout = "";
  let stderr = "";
  const prompts: string[] = [];
  const typed = run.typed === undefined ? undefined : [...run.typed];
  const promptPassword: PasswordPrompt =
    typed === undefined
      ? undefined
      : async (question) => {
          prompts.push(question);
          return typed.shift() ?? "";
        };
  const code = await runClientCommand(args, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: run.env ?? {},
    readStdin: async () => run.stdin ?? "",
    connect,
    signal: new AbortController().signal,
    ...(promptPassword !== undefined && { promptPassword }),
  });
  return { code, stdout, stderr, prompts };
}

function usageError(f: () => unknown): UsageError {
  try {
    f();
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error("expected a UsageError");
}

describe("connection flags", () => {
  it("takes the user from --user NAME:PASSWORD, else $CONCLAVE_USER, with $CONCLAVE_PASSWORD", () => {
    const parse = (argv: string[], env: Record<string, string> = {}) =>
      parseCommand(getSpec, ["k", ...argv], env).globals;
    expect(parse(["--user", "alice:s3:cret"]).user).toEqual({ name: "alice", password: "s3:cret" });
    expect(parse(["--user", "alice"], { CONCLAVE_PASSWORD: "pw" }).user).toEqual({
      name: "alice",
      password: "pw",
    });
    expect(parse([], { CONCLAVE_USER: "bob", CONCLAVE_PASSWORD: "pw" }).user).toEqual({
      name: "bob",
      password: "pw",
    });
    // No password yet: asked for at the terminal when the command runs.
    expect(parse(["--user", "alice"]).user).toEqual({ name: "alice" });
    expect(parse([]).user).toBeUndefined();
  });

  it("takes TLS files from the flags, else $CONCLAVE_CACERT / _CERT / _KEY", () => {
    const env = {
      CONCLAVE_CACERT: "/env/ca.pem",
      CONCLAVE_CERT: "/env/c.pem",
      CONCLAVE_KEY: "/env/k.pem",
    };
    expect(parseCommand(getSpec, ["k", "--cacert", "/flag/ca.pem"], env).globals.tls).toEqual({
      caFile: "/flag/ca.pem",
      certFile: "/env/c.pem",
      keyFile: "/env/k.pem",
    });
    expect(parseCommand(getSpec, ["k"], {}).globals.tls).toBeUndefined();
  });

  it("refuses a certificate without its key and a user without a name", () => {
    expect(usageError(() => parseCommand(getSpec, ["k", "--cert", "c.pem"], {})).message).toMatch(
      /--cert and --key go together/,
    );
    expect(usageError(() => parseCommand(getSpec, ["k", "--user", ":pw"], {})).message).toMatch(
      /--user needs a user name/,
    );
  });

  it("reads the TLS files into the SDK's options", () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-cli-tls-"));
    try {
      for (const name of ["ca", "cert", "key"]) writeFileSync(join(dir, name), `${name} pem`);
      const options = clientConnectionOptions({
        user: { name: "alice", password: "pw" },
        tls: { caFile: join(dir, "ca"), certFile: join(dir, "cert"), keyFile: join(dir, "key") },
      });
      expect(options).toEqual({
        username: "alice",
        password: "pw",
        tls: {
          ca: Buffer.from("ca pem"),
          cert: Buffer.from("cert pem"),
          key: Buffer.from("key pem"),
        },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("https endpoints", () => {
  it("trusts --cacert and presents --cert/--key, from flags or the environment", async () => {
    const files = makeTlsFiles();
    const dir = mkdtempSync(join(tmpdir(), "conclave-cli-tls-"));
    const path = (name: string, pem: Buffer) => {
      writeFileSync(join(dir, name), pem);
      return join(dir, name);
    };
    const ca = path("ca.pem", files.cert);
    const cert = path("client.pem", files.otherCert);
    const key = path("client.key", files.otherKey);
    // A server with its own self-signed certificate that insists on the client's.
    const clientNames: string[] = [];
    const server = https.createServer(
      { cert: files.cert, key: files.key, ca: [files.otherCert], requestCert: true },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        clientNames.push(String(socket.getPeerCertificate().subject.CN));
        req.resume();
        req.on("end", () => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ header: { revision: "3" }, kvs: [], count: "0" }));
        });
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const url = `https://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
    try {
      const flags = ["--endpoints", url, "--timeout", "500"];
      const withFlags = await cli([
        "get",
        "k",
        ...flags,
        "--cacert",
        ca,
        "--cert",
        cert,
        "--key",
        key,
      ]);
      expect(withFlags).toMatchObject({ code: 0, stderr: "" });
      const fromEnv = await cli(["get", "k", ...flags], {
        env: { CONCLAVE_CACERT: ca, CONCLAVE_CERT: cert, CONCLAVE_KEY: key },
      });
      expect(fromEnv).toMatchObject({ code: 0, stderr: "" });
      expect(clientNames).toEqual(["conclave-other", "conclave-other"]);
      const untrusted = await cli(["get", "k", ...flags, "--cert", cert, "--key", key]);
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toMatch(/^conclave: UNAVAILABLE: /);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("client commands as a user", () => {
  it("authenticates with --user and sends the token with the call", async () => {
    const s = await serve();
    const r = await cli(["get", "k", "--endpoints", s.url, "--user", "alice:wonderland"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(s.authentications()[0]!.body).toEqual({ name: "alice", password: "wonderland" });
    expect(s.calls()[0]!.headers.authorization).toBe(s.issued[0]);
  });

  it("asks for the password at a terminal, once, before the command runs", async () => {
    const s = await serve();
    const r = await cli(["--user", "alice", "--endpoints", s.url, "put", "k", "v"], {
      typed: ["wonderland"],
    });
    expect(r).toMatchObject({ code: 0, stdout: "OK\n", prompts: ["Password for alice: "] });
    expect(s.authentications()[0]!.body).toEqual({ name: "alice", password: "wonderland" });
  });

  it("never waits for a password when standard input is not a terminal", async () => {
    const s = await serve();
    const r = await cli(["get", "k", "--endpoints", s.url, "--user", "alice"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no password for user alice: set \$CONCLAVE_PASSWORD/);
    expect(s.seen).toHaveLength(0);
  });

  it("explains auth refusals and exits 1", async () => {
    const s = await serve({
      routes: { "/v3/kv/put": [403, { code: "PERMISSION_DENIED", message: "no write on k" }] },
    });
    const wrong = await cli(["get", "k", "--endpoints", s.url, "--user", "alice:guess"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe(
      "conclave: AUTH_FAILED: authentication failed (check the user name and password)\n",
    );
    const anonymous = await cli(["get", "k", "--endpoints", s.url]);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/^conclave: AUTH_REQUIRED: .*pass --user NAME/);
    const denied = await cli(["put", "k", "v", "--endpoints", s.url], {
      env: { CONCLAVE_USER: "alice", CONCLAVE_PASSWORD: "wonderland" },
    });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^conclave: PERMISSION_DENIED: no write on k/);
  });

  it("fails with the file's error when a TLS file cannot be read", async () => {
    const s = await serve();
    const r = await cli(["get", "k", "--endpoints", s.url, "--cacert", "/nonexistent/ca.pem"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^conclave: ENOENT: .*\/nonexistent\/ca.pem/);
    expect(s.seen).toHaveLength(0);
  });
});

describe("auth, user and role commands", () => {
  const root = ["--user", "root:rootpw"];
  const users = { root: "rootpw" };

  it("adds users with a password from stdin, or none, and never from argv", async () => {
    const s = await serve({ users });
    const ep = ["--endpoints", s.url, ...root];
    expect(
      await cli(["user", "add", "alice", "--new-password-stdin", ...ep], {
        stdin: "pw 1\nignored",
      }),
    ).toMatchObject({ code: 0, stdout: "User alice created\n" });
    expect((await cli(["user", "add", "svc", "--no-password", ...ep])).code).toBe(0);
    const typed = await cli(["user", "passwd", "alice", ...ep], { typed: ["pw2", "pw2"] });
    expect(typed).toMatchObject({ code: 0, stdout: "Password of alice updated\n" });
    expect(s.calls().map((r) => [r.url, r.body])).toEqual([
      ["/v3/auth/user/add", { name: "alice", password: "pw 1" }],
      ["/v3/auth/user/add", { name: "svc", options: { no_password: true } }],
      ["/v3/auth/user/changepw", { name: "alice", password: "pw2" }],
    ]);
    const noSource = await cli(["user", "add", "bob", ...ep]);
    expect(noSource.code).toBe(2);
    expect(noSource.stderr).toMatch(/--new-password-stdin/);
    const mismatch = await cli(["user", "add", "bob", ...ep], { typed: ["a", "b"] });
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/passwords do not match/);
    expect(
      (await cli(["user", "add", "bob", "--no-password", "--new-password-stdin", ...ep])).code,
    ).toBe(2);
    expect(s.calls()).toHaveLength(3);
  });

  it("grants and revokes key permissions on a key, a range, a prefix or from a key on", async () => {
    const s = await serve({ users });
    const ep = ["--endpoints", s.url, ...root];
    for (const args of [
      ["app", "readwrite", "app/", "--prefix"],
      ["app", "read", "a", "c"],
      ["app", "WRITE", "one"],
      ["app", "read", "logs/", "--from-key"],
    ]) {
      expect(await cli(["role", "grant-permission", ...args, ...ep])).toMatchObject({
        code: 0,
        stdout: "Role app updated\n",
      });
    }
    const revoked = await cli(["role", "revoke-permission", "app", "app/", "--prefix", ...ep]);
    expect(revoked.stdout).toBe("Permission of app/ (prefix) is revoked from role app\n");
    expect(s.calls().map((r) => r.body)).toEqual([
      { name: "app", perm: { permType: "READWRITE", key: b64("app/"), range_end: b64("app0") } },
      { name: "app", perm: { permType: "READ", key: b64("a"), range_end: b64("c") } },
      { name: "app", perm: { permType: "WRITE", key: b64("one") } },
      { name: "app", perm: { permType: "READ", key: b64("logs/"), range_end: "AA==" } },
      { role: "app", key: b64("app/"), range_end: b64("app0") },
    ]);
    const bad = [
      ["role", "grant-permission", "app", "all", "k"],
      ["role", "grant-permission", "app", "read", "a", "c", "--prefix"],
      ["role", "revoke-permission", "app", "a", "--prefix", "--from-key"],
    ];
    for (const args of bad) expect((await cli([...args, ...ep])).code).toBe(2);
    expect(s.calls()).toHaveLength(5);
  });

  it("prints auth status, users and roles for people and as JSON", async () => {
    const header = { revision: "7" };
    const s = await serve({
      users,
      routes: {
        "/v3/auth/status": [200, { header, enabled: true, authRevision: "4" }],
        "/v3/auth/user/get": [200, { header, roles: ["root", "app"] }],
        "/v3/auth/user/list": [200, { header, users: ["alice", "root"] }],
        "/v3/auth/role/get": [
          200,
          {
            header,
            perm: [
              { permType: "READWRITE", key: b64("app/"), range_end: b64("app0") },
              { permType: "READ", key: b64("a"), range_end: b64("c") },
              { permType: "WRITE", key: b64("one") },
            ],
          },
        ],
      },
    });
    const ep = ["--endpoints", s.url, ...root];
    expect((await cli(["auth", "status", ...ep])).stdout).toBe(
      "Authentication Status: true\nAuthRevision: 4\n",
    );
    expect((await cli(["auth", "status", "--json", ...ep])).stdout).toBe(
      '{"enabled":true,"authRevision":4}\n',
    );
    expect((await cli(["user", "get", "alice", ...ep])).stdout).toBe(
      "User: alice\nRoles: root app\n",
    );
    expect((await cli(["user", "list", ...ep])).stdout).toBe("alice\nroot\n");
    expect((await cli(["role", "get", "app", ...ep])).stdout).toBe(
      "Role app\nKV Read:\n\tapp/ (prefix)\n\t[a, c)\nKV Write:\n\tapp/ (prefix)\n\tone\n",
    );
    expect(JSON.parse((await cli(["role", "get", "app", "--json", ...ep])).stdout)).toEqual({
      role: "app",
      permissions: [
        { type: "readwrite", key: "app/", rangeEnd: "app0" },
        { type: "read", key: "a", rangeEnd: "c" },
        { type: "write", key: "one" },
      ],
    });
    expect((await cli(["auth", "enable", ...ep])).stdout).toBe("Authentication Enabled\n");
    expect((await cli(["auth", "disable", ...ep])).stdout).toBe("Authentication Disabled\n");
  });

  it("describes every shape of permission range", () => {
    expect(describeRange({ key: bytes("k") })).toBe("k");
    expect(describeRange({ key: bytes("k"), rangeEnd: new Uint8Array([0]) })).toBe(
      "k and every key after it",
    );
    expect(describeRange({ key: new Uint8Array(0), rangeEnd: new Uint8Array([0]) })).toBe(
      "every key",
    );
    expect(describeRange({ key: bytes("a/"), rangeEnd: bytes("a0") })).toBe("a/ (prefix)");
    expect(describeRange({ key: bytes("a"), rangeEnd: bytes("m") })).toBe("[a, m)");
  });
});
