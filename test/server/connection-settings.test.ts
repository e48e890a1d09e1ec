import { describe, expect, it } from "vitest";
import { clientConnectionSettings } from "../../src/server/runtime/assemble.js";
import { resolveServeConfig, type ServeConfig } from "../../src/server/runtime/config.js";
import { ServeConfigError } from "../../src/server/runtime/config-error.js";

function resolve(argv: string[], env: Record<string, string> = {}): ServeConfig {
  const parsed = resolveServeConfig({ argv, env });
  if (parsed.config === undefined) throw new Error("expected a config");
  return parsed.config;
}

describe("serve settings for client connections and range answers", () => {
  it("derives connection caps from the fd limit unless set, and passes the timeouts", () => {
    const defaults = resolve([]);
    expect(clientConnectionSettings(defaults)).toEqual({
      headersTimeoutMs: 10_000,
      requestReceiveTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5000,
      idleTimeoutMs: 120_000,
    });
    expect(defaults.maxRangeBytes).toBe(4 * 1024 * 1024);
    const set = resolve(["--max-client-connections", "500", "--headers-timeout-ms", "2000"], {
      CONCLAVE_MAX_CLIENT_CONNECTIONS_PER_HOST: "50",
      CONCLAVE_MAX_RANGE_BYTES: "65536",
    });
    expect(clientConnectionSettings(set)).toMatchObject({
      maxConnections: 500,
      maxConnectionsPerHost: 50,
      headersTimeoutMs: 2000,
    });
    expect(set.maxRangeBytes).toBe(65_536);
  });

  it("refuses a header timeout longer than the request receive timeout, naming both", () => {
    expect(() =>
      resolve(["--headers-timeout-ms", "5000", "--request-receive-timeout-ms", "1000"]),
    ).toThrow(ServeConfigError);
    expect(() =>
      resolve(["--headers-timeout-ms", "5000", "--request-receive-timeout-ms", "1000"]),
    ).toThrow(/headersTimeoutMs.*requestReceiveTimeoutMs/);
    expect(() => resolve(["--max-range-bytes", "0"])).toThrow(/maxRangeBytes/);
  });
});
