import { describe, expect, it } from "vitest";
import { MissingPeerDependencyError } from "../../src/lock/index.js";
import { importOptionalDriver } from "../../src/lock/optional-driver.js";

describe("importOptionalDriver", () => {
  it("names the package to install when the driver is absent", async () => {
    const loading = importOptionalDriver("conclave-absent-driver", "conclave/lock/absent");
    await expect(loading).rejects.toBeInstanceOf(MissingPeerDependencyError);
    await expect(loading).rejects.toMatchObject({
      code: "MISSING_PEER_DEPENDENCY",
      packageName: "conclave-absent-driver",
      subpath: "conclave/lock/absent",
      message:
        "conclave/lock/absent needs the optional peer dependency conclave-absent-driver: npm install conclave-absent-driver",
    });
  });

  it("returns the driver's module when it is installed", async () => {
    const ioredis = await importOptionalDriver<typeof import("ioredis")>(
      "ioredis",
      "conclave/lock/redis",
    );
    expect(typeof ioredis.Redis).toBe("function");
  });

  it("keeps a driver's own error when the driver is there but fails to load", async () => {
    // A subpath of an installed package that does not exist: not the package missing.
    const loading = importOptionalDriver("ioredis/no-such-file.js", "conclave/lock/redis");
    await expect(loading).rejects.not.toBeInstanceOf(MissingPeerDependencyError);
  });
});
