import { describe, expect, it } from "vitest";
import type { KvResult, KvStore } from "../../src/kv/index.js";
import type { RaftNode } from "../../src/raft/node/index.js";
import { resolveClientConnections } from "../../src/server/client-connections.js";
import { serverOptions } from "../../src/server/runtime/assemble.js";
import { ServeConfigError } from "../../src/server/runtime/config-error.js";
import { resolveTestConfig } from "./serve-config.js";

const resolve = resolveTestConfig;

const parts = {
  node: {} as RaftNode<KvResult>,
  store: {} as KvStore,
  logger: {} as never,
  clientConnections: resolveClientConnections(),
};

describe("conclave serve Host and exposure settings", () => {
  it("takes --allowed-hosts as a list and adds the advertised client URL's host", async () => {
    const config = resolve([
      "--allowed-hosts",
      "api.example.com, *.corp.example",
      "--advertise-client-url",
      "http://m1.example:7379",
    ]);
    expect(config.allowedHosts).toEqual(["api.example.com", "*.corp.example"]);
    const options = await serverOptions(config, parts);
    expect(options.allowedHosts).toEqual(["m1.example", "api.example.com", "*.corp.example"]);
    expect(options.peerExposure).toEqual({
      listenHost: "127.0.0.1",
      tls: false,
      unauthenticated: false,
    });
    expect(resolve([], {}).allowedHosts).toEqual([]);
  });

  it("refuses a host list entry that is not a name, *.domain or *", () => {
    for (const bad of ["http://x.example", "a b", "x.example/path"]) {
      expect(() => resolve(["--allowed-hosts", bad]), bad).toThrow(ServeConfigError);
    }
    expect(() => resolve(["--allowed-hosts", "bad/"])).toThrow(/allowedHosts|allowed-hosts/);
  });
});
