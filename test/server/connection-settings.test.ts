import { describe, expect, it } from "vitest";
import { clientConnectionSettings } from "../../src/server/runtime/assemble.js";
import { ServeConfigError } from "../../src/server/runtime/config-error.js";
import { resolveTestConfig } from "./serve-config.js";

const resolve = resolveTestConfig;

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
