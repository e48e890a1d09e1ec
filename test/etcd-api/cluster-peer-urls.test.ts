import { describe, expect, it } from "vitest";
import { peerAddressOf } from "../../src/server/grpc/cluster-service.js";

describe("etcd peer URLs as Conclave peer addresses", () => {
  it("keeps host and port of a bare http(s) URL", () => {
    expect(peerAddressOf("http://127.0.0.1:2380")).toBe("127.0.0.1:2380");
    expect(peerAddressOf("https://node-4.example:2380/")).toBe("node-4.example:2380");
    expect(peerAddressOf("http://[::1]:2380")).toBe("[::1]:2380");
    expect(peerAddressOf("10.0.0.1:2380")).toBe("10.0.0.1:2380");
  });

  it("passes on what it cannot reduce, for the route to refuse", () => {
    for (const url of ["http://127.0.0.1", "http://h:1/path", "unix:///tmp/s", "http://u:p@h:1"]) {
      expect(peerAddressOf(url)).toBe(url);
    }
    expect(peerAddressOf(7)).toBe(7);
  });
});
