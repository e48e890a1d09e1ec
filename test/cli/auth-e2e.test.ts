/**
 * The SDK, the CLI and the conclave lock backend against the real server
 * with auth enabled: the two halves of authentication meet here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runClientCommand } from "../../src/cli/client-commands.js";
import { connect } from "../../src/cli/connect.js";
import {
  AuthRequiredError,
  ConclaveClient,
  PermissionDeniedError,
} from "../../src/client/index.js";
import { ConclaveLockBackend } from "../../src/lock/conclave/index.js";
import { LockClient } from "../../src/lock/index.js";
import { type HttpCluster, startHttpCluster } from "../server/http-cluster.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const ROOT_PASSWORD = "root-password-for-the-test";
const ALICE_PASSWORD = "alice-password-for-the-test";

let cluster: HttpCluster;

async function cli(args: string[], env: Record<string, string> = {}, stdin = "") {
  let stdout = "";
  let stderr = "";
  const code = await runClientCommand([...args, "--endpoints", cluster.urls.join(",")], {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env,
    readStdin: async () => stdin,
    connect,
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}

const asRoot = { CONCLAVE_USER: "root", CONCLAVE_PASSWORD: ROOT_PASSWORD };

beforeAll(async () => {
  cluster = await startHttpCluster({ auth: { bcryptCost: 4 } });
  const steps: [string[], Record<string, string>, string][] = [
    [["user", "add", "root", "--new-password-stdin"], {}, `${ROOT_PASSWORD}\n`],
    [["user", "grant-role", "root", "root"], {}, ""],
    [["auth", "enable"], {}, ""],
    [["role", "add", "reader"], asRoot, ""],
    [["role", "grant-permission", "reader", "read", "a/", "--prefix"], asRoot, ""],
    [["role", "grant-permission", "reader", "readwrite", "conclave/lock/", "--prefix"], asRoot, ""],
    [["user", "add", "alice", "--new-password-stdin"], asRoot, `${ALICE_PASSWORD}\n`],
    [["user", "grant-role", "alice", "reader"], asRoot, ""],
  ];
  for (const [args, env, stdin] of steps) {
    const r = await cli(args, env, stdin);
    expect(r.stderr, args.join(" ")).toBe("");
    expect(r.code, args.join(" ")).toBe(0);
  }
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("authentication end to end", () => {
  it("the CLI is refused without credentials and served as root", async () => {
    const anonymous = await cli(["put", "a/x", "1"]);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain("AUTH_REQUIRED");
    const root = await cli(["put", "a/x", "1"], asRoot);
    expect(root.stderr).toBe("");
    expect(root.code).toBe(0);
    const status = await cli(["auth", "status"], asRoot);
    expect(status.stdout).toContain("Authentication Status: true");
  });

  it("the SDK signs in, reads and watches what the user may, and is refused the rest", async () => {
    const alice = new ConclaveClient({
      endpoints: cluster.urls,
      username: "alice",
      password: ALICE_PASSWORD,
    });
    const root = new ConclaveClient({
      endpoints: cluster.urls,
      username: "root",
      password: ROOT_PASSWORD,
    });
    try {
      await root.put(enc("a/y"), enc("2"));
      const got = await alice.get(enc("a/y"));
      expect(got === undefined ? undefined : dec(got.value)).toBe("2");
      await expect(alice.put(enc("a/y"), enc("3"))).rejects.toBeInstanceOf(PermissionDeniedError);
      await expect(alice.get(enc("b/secret"))).rejects.toBeInstanceOf(PermissionDeniedError);

      const watch = alice.watch(enc("a/"), { prefix: true });
      const seen: string[] = [];
      const done = (async () => {
        for await (const batch of watch) {
          for (const e of batch.events) seen.push(dec(e.kv.value));
          if (seen.includes("watched")) return;
        }
      })();
      await root.put(enc("a/z"), enc("watched"));
      await done;
      await watch.cancel();
      expect(seen).toContain("watched");

      const anonymous = new ConclaveClient({ endpoints: cluster.urls });
      await expect(anonymous.get(enc("a/y"))).rejects.toBeInstanceOf(AuthRequiredError);
      await anonymous.close();
    } finally {
      await alice.close();
      await root.close();
    }
  });

  it("the conclave lock backend passes the user's credentials through", async () => {
    const locks = new LockClient(
      new ConclaveLockBackend({
        endpoints: cluster.urls,
        username: "alice",
        password: ALICE_PASSWORD,
      }),
    );
    try {
      const lock = await locks.acquire("locks/job", { ttlMs: 5000, waitMs: 5000 });
      expect(lock.fencingToken).toBeDefined();
      await lock.release();
    } finally {
      await locks.close();
    }
  });
});
