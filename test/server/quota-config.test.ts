import { describe, expect, it } from "vitest";
import { serverOptions } from "../../src/server/runtime/assemble.js";
import { configFailure, resolveTestConfig } from "./serve-config.js";

const HOUR_MS = 3_600_000;

describe("conclave serve quota and auto-compaction settings", () => {
  it("defaults to etcd's: the 2 GiB quota (0) and auto-compaction off", () => {
    const c = resolveTestConfig([]);
    expect(c.quotaBackendBytes).toBe(0);
    expect(c.autoCompaction).toBeUndefined();
  });

  it("reads retention as the mode says: a duration (bare number: hours) or a count", () => {
    const policy = (argv: string[], env: Record<string, string> = {}) =>
      resolveTestConfig(argv, env).autoCompaction;
    expect(policy(["--auto-compaction-retention", "1h30m"])).toEqual({
      mode: "periodic",
      retentionMs: 1.5 * HOUR_MS,
    });
    expect(policy(["--auto-compaction-retention", "2"])).toEqual({
      mode: "periodic",
      retentionMs: 2 * HOUR_MS,
    });
    expect(policy([], { CONCLAVE_AUTO_COMPACTION_RETENTION: "90s" })).toEqual({
      mode: "periodic",
      retentionMs: 90_000,
    });
    expect(
      policy(["--auto-compaction-mode", "revision", "--auto-compaction-retention", "1000"]),
    ).toEqual({ mode: "revision", retainRevisions: 1000 });
    expect(policy(["--auto-compaction-mode", "revision"])).toBeUndefined();
  });

  it("names the setting and its source when a value does not fit", () => {
    const revisionDuration = configFailure(() =>
      resolveTestConfig([
        "--auto-compaction-mode",
        "revision",
        "--auto-compaction-retention",
        "1h",
      ]),
    );
    expect(revisionDuration.message).toMatch(/autoCompactionRetention.*flag.*needs a count/);
    const mode = configFailure(() => resolveTestConfig(["--auto-compaction-mode", "hourly"]));
    expect(mode.message).toMatch(/autoCompactionMode.*periodic or revision/);
    const retention = configFailure(() =>
      resolveTestConfig(["--auto-compaction-retention", "1 day"]),
    );
    expect(retention.field).toBe("autoCompactionRetention");
    const quota = configFailure(() => resolveTestConfig(["--quota-backend-bytes", "2GB"]));
    expect(quota.field).toBe("quotaBackendBytes");
  });

  it("hands both to the server", async () => {
    const c = resolveTestConfig([
      "--quota-backend-bytes",
      "1048576",
      "--auto-compaction-mode",
      "revision",
      "--auto-compaction-retention",
      "50",
    ]);
    const options = await serverOptions(c, {
      node: {} as never,
      store: {} as never,
      logger: {} as never,
      clientConnections: {} as never,
    });
    expect(options.quotaBackendBytes).toBe(1_048_576);
    expect(options.autoCompaction).toEqual({ mode: "revision", retainRevisions: 50 });
  });
});
