import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { etcdStatus, GrpcCode } from "../../src/server/grpc/status.js";

describe("gRPC status codes written out for the HTTP gateway", () => {
  it("are @grpc/grpc-js's numbers, name for name", () => {
    for (const [name, code] of Object.entries(GrpcCode)) {
      expect(code, name).toBe(status[name as keyof typeof status]);
    }
  });

  it("map etcd's errors and the HTTP statuses without one", () => {
    expect(etcdStatus("KV_COMPACTED", "", 400).code).toBe(status.OUT_OF_RANGE);
    expect(etcdStatus("KV_NOSPACE", "", 507).code).toBe(status.RESOURCE_EXHAUSTED);
    expect(etcdStatus("SOMETHING_NEW", "x", 400).code).toBe(status.INVALID_ARGUMENT);
  });
});
