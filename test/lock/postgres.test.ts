import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { LockAbortedError, LockClient } from "../../src/lock/index.js";
import {
  POSTGRES_ADVISORY_GUARANTEES,
  PostgresAdvisoryLockBackend,
} from "../../src/lock/postgres/advisory.js";
import { POSTGRES_GUARANTEES, PostgresLockBackend } from "../../src/lock/postgres/index.js";
import { runLockConformance } from "./conformance.js";
import { POSTGRES_URL, requireSharedPostgres, testPoolConfig } from "./support/postgres.js";
import { sharedServerTarget } from "./support/server-target.js";

const workerModule = fileURLToPath(new URL("./support/postgres-worker-client.ts", import.meta.url));

for (const advisory of [false, true]) {
  const label = advisory ? "postgres (advisory locks)" : "postgres";
  const guarantees = advisory ? POSTGRES_ADVISORY_GUARANTEES : POSTGRES_GUARANTEES;
  const backend = (url: string, operationTimeoutMs?: number) => {
    const options = { connection: testPoolConfig(url), operationTimeoutMs };
    return advisory ? new PostgresAdvisoryLockBackend(options) : new PostgresLockBackend(options);
  };
  runLockConformance(label, guarantees, { inProcess: false }, async () => {
    await requireSharedPostgres();
    return sharedServerTarget({
      label,
      serverPort: 5432,
      worker: { module: workerModule, config: { url: POSTGRES_URL, advisory } },
      backend: () => backend(POSTGRES_URL),
      proxiedBackend: (proxyPort) =>
        backend(`postgres://postgres@127.0.0.1:${proxyPort}/test`, 300),
    });
  });
}

describe("postgres lock backend specifics", () => {
  it("leaves no notification listener behind an aborted wait", async () => {
    await requireSharedPostgres();
    const holder = new LockClient(new PostgresLockBackend({ connection: testPoolConfig() }));
    const waiterBackend = new PostgresLockBackend({ connection: testPoolConfig() });
    const waiter = new LockClient(waiterBackend);
    try {
      const name = `pg-abort-cleanup-${process.pid}-${Date.now()}`;
      const lock = await holder.acquire(name);
      const controller = new AbortController();
      const waiting = waiter.acquire(name, {
        signal: controller.signal,
        onQueued: () => controller.abort(),
      });
      await expect(waiting).rejects.toBeInstanceOf(LockAbortedError);
      expect(waiterBackend.listenerCount).toBe(0);
      await lock.release();
    } finally {
      await holder.close();
      await waiter.close();
    }
  });

  it("rejects unsafe schema and table names", () => {
    expect(
      () =>
        new PostgresLockBackend({ connection: testPoolConfig(), schema: 'x"; DROP TABLE y; --' }),
    ).toThrow(/schema must match/);
    expect(
      () => new PostgresLockBackend({ connection: testPoolConfig(), tablePrefix: "Bad-Name" }),
    ).toThrow(/tablePrefix must match/);
  });
});
