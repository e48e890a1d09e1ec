/**
 * The SDK, the CLI and the conclave lock backend against the real server
 * with auth enabled: the two halves of authentication meet here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuthRequiredError,
  ConclaveClient,
  PermissionDeniedError,
} from "../../src/client/index.js";
import { ConclaveLockBackend } from "../../src/lock/conclave/index.js";
import { LockClient } from "../../src/lock/index.js";
import type { HttpCluster } from "../server/http-cluster.js";
import { AS_ROOT, type AuthCluster, ROOT_PASSWORD, startAuthCluster } from "./auth-cluster.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const ALICE_PASSWORD = "alice-password-for-the-test";
const asRoot = AS_ROOT;

let cluster: HttpCluster;
let cli: AuthCluster["cli"];

beforeAll(async () => {
  ({ cluster, cli } = await startAuthCluster({ auth: { bcryptCost: 4 } }, [
    [["role", "add", "reader"]],
    [["role", "grant-permission", "reader", "read", "a/", "--prefix"]],
    [["role", "grant-permission", "reader", "readwrite", "conclave/lock/", "--prefix"]],
    [["user", "add", "alice", "--new-password-stdin"], `${ALICE_PASSWORD}\n`],
    [["user", "grant-role", "alice", "reader"]],
  ]));
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
      const written = await root.put(enc("a/y"), enc("2"));
      const got = await alice.get(enc("a/y"));
      expect(got === undefined ? undefined : dec(got.value)).toBe("2");
      await expect(alice.put(enc("a/y"), enc("3"))).rejects.toBeInstanceOf(PermissionDeniedError);
      await expect(alice.get(enc("b/secret"))).rejects.toBeInstanceOf(PermissionDeniedError);

      // From a known revision: a watch that goes live after the put below still sees it.
      const watch = alice.watch(enc("a/"), { prefix: true, startRevision: written.revision + 1 });
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
