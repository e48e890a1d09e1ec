/**
 * The client side of each system, as the child processes use it. Conclave:
 * the Registry over ConclaveClient (lease per instance kept alive by the
 * SDK, record and naming copy written in one transaction, watch = list then
 * watch from the listing's revision). etcd: the same pattern done the etcd
 * way with npm etcd3: one lease per instance kept alive by etcd3's own loop,
 * one key per instance in etcd's naming format, watchers listing the prefix
 * and then watching it from the listing's revision + 1.
 */
import { Etcd3, type Lease } from "etcd3";
import {
  type CallOptions,
  ConclaveClient,
  type LeaseKeepAliveResult,
} from "../../src/client/index.js";
import { instanceAddr } from "../../src/registry/keys.js";
import { Registry } from "../../src/registry/registry.js";
import { etcdServicePrefix, type PlannedInstance, type RegistrySystem, rotate } from "./plan.js";

export interface RegistrantClient {
  /** One request that opens the connections before the clock starts. */
  warmUp(): Promise<void>;
  register(instance: PlannedInstance): Promise<void>;
  /** Keep-alive requests answered so far, over all this process's leases. */
  keepAlives(): number;
  /** Deregisters everything (revokes the leases) and closes the client. */
  close(): Promise<void>;
}

export interface WatchClient {
  /** Calls `onSet` with the service's instance addresses first, then after every change, until `signal` aborts. */
  follow(
    service: string,
    onSet: (addrs: ReadonlySet<string>) => void,
    signal: AbortSignal,
  ): Promise<void>;
  close(): Promise<void>;
}

/** The SDK as applications use it, counting the keep-alives its lease keepers get answered. */
class CountingClient extends ConclaveClient {
  keepAlivesAnswered = 0;

  override async leaseKeepAliveOnce(
    id: number,
    options?: CallOptions,
  ): Promise<LeaseKeepAliveResult> {
    const answer = await super.leaseKeepAliveOnce(id, options);
    this.keepAlivesAnswered++;
    return answer;
  }
}

export function registrantClient(
  system: RegistrySystem,
  endpoints: readonly string[],
  index: number,
  ttlSeconds: number,
): RegistrantClient {
  return system === "conclave"
    ? conclaveRegistrant(endpoints, index, ttlSeconds)
    : etcdRegistrant(endpoints, ttlSeconds);
}

export function watchClient(
  system: RegistrySystem,
  endpoints: readonly string[],
  firstEndpoint: number,
): WatchClient {
  return system === "conclave"
    ? conclaveWatcher(endpoints, firstEndpoint)
    : etcdWatcher(endpoints, firstEndpoint);
}

function conclaveRegistrant(
  endpoints: readonly string[],
  index: number,
  ttlSeconds: number,
): RegistrantClient {
  // Each registrant starts at a different member, as a fleet's processes would.
  const client = new CountingClient({ endpoints: rotate(endpoints, index) });
  const registry = new Registry(client);
  return {
    async warmUp() {
      await client.get("/bench/warm-up");
    },
    async register(instance) {
      await registry.register({
        service: instance.service,
        id: instance.id,
        address: instance.address,
        port: instance.port,
        ttlMs: ttlSeconds * 1000,
      });
    },
    keepAlives: () => client.keepAlivesAnswered,
    async close() {
      try {
        await registry[Symbol.asyncDispose]();
      } finally {
        await client.close();
      }
    },
  };
}

function conclaveWatcher(endpoints: readonly string[], firstEndpoint: number): WatchClient {
  const client = new ConclaveClient({ endpoints: rotate(endpoints, firstEndpoint) });
  const registry = new Registry(client);
  return {
    async follow(service, onSet, signal) {
      for await (const snapshot of registry.watch(service, { signal })) {
        onSet(new Set(snapshot.instances.map((i) => instanceAddr(i))));
      }
    },
    async close() {
      await registry[Symbol.asyncDispose]();
      await client.close();
    },
  };
}

function etcdValue(instance: PlannedInstance): string {
  return JSON.stringify({ Op: 0, Addr: instance.addr, Metadata: { id: instance.id } });
}

function etcdRegistrant(endpoints: readonly string[], ttlSeconds: number): RegistrantClient {
  // etcd3 spreads its calls over every host, as it is normally used.
  const client = new Etcd3({ hosts: [...endpoints] });
  const leases: Lease[] = [];
  let keepAlives = 0;
  return {
    async warmUp() {
      await client.get("/bench/warm-up").string();
    },
    async register(instance) {
      // etcd3's own loop keeps each lease alive: a keep-alive every TTL/3.
      const lease = client.lease(ttlSeconds);
      lease.on("keepaliveSucceeded", () => {
        keepAlives++;
      });
      leases.push(lease);
      await lease.grant();
      await lease
        .put(`${etcdServicePrefix(instance.service)}${instance.addr}`)
        .value(etcdValue(instance));
    },
    keepAlives: () => keepAlives,
    async close() {
      try {
        await Promise.all(leases.map((l) => l.revoke()));
      } finally {
        client.close();
      }
    },
  };
}

function etcdWatcher(endpoints: readonly string[], firstEndpoint: number): WatchClient {
  // One connection per watcher process; its watches share it (etcd3 multiplexes them).
  const client = new Etcd3({ hosts: [endpoints[firstEndpoint % endpoints.length]!] });
  return {
    async follow(service, onSet, signal) {
      const prefix = etcdServicePrefix(service);
      const addrs = new Set<string>();
      const listing = await client.getAll().prefix(prefix).exec();
      for (const kv of listing.kvs) addrs.add(kv.key.toString().slice(prefix.length));
      onSet(addrs);
      const watcher = await client
        .watch()
        .prefix(prefix)
        .startRevision(String(Number(listing.header.revision) + 1))
        .create();
      watcher.on("data", (response) => {
        for (const event of response.events) {
          const addr = event.kv.key.toString().slice(prefix.length);
          // etcd3 reads enums as their proto names (PUT, DELETE).
          if (String(event.type).toUpperCase() === "DELETE") addrs.delete(addr);
          else addrs.add(addr);
        }
        if (response.events.length > 0) onSet(addrs);
      });
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener("abort", () => resolve(), { once: true });
      });
      await watcher.cancel();
    },
    async close() {
      client.close();
    },
  };
}
