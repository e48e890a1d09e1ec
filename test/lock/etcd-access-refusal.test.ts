import {
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
} from "etcd3";
import { describe, expect, it } from "vitest";
import { etcdAccessRefusal } from "../../src/lock/etcd/store.js";
import { BackendUnavailableError, LockAccessDeniedError } from "../../src/lock/index.js";
import { boundedCall } from "../../src/lock/sequenced/call.js";

describe("etcd refusals of access", () => {
  it("become LockAccessDeniedError with the code a Conclave server gives the same refusal", async () => {
    const cases = [
      [new EtcdPermissionDeniedError("etcdserver: permission denied"), "PERMISSION_DENIED"],
      [new EtcdAuthenticationFailedError("etcdserver: authentication failed"), "AUTH_FAILED"],
      [new EtcdInvalidAuthTokenError("etcdserver: invalid auth token"), "INVALID_AUTH_TOKEN"],
    ] as const;
    for (const [thrown, serverCode] of cases) {
      const error = await boundedCall(
        "etcd",
        1000,
        "jobs",
        () => Promise.reject(thrown),
        etcdAccessRefusal,
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockAccessDeniedError);
      expect(error).toMatchObject({ serverCode, lockName: "jobs", backend: "etcd", cause: thrown });
    }
  });

  it("leaves other etcd errors to BackendUnavailableError", async () => {
    const error = await boundedCall(
      "etcd",
      1000,
      "jobs",
      () => Promise.reject(new EtcdLeaseInvalidError("lease not found")),
      etcdAccessRefusal,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
  });
});
