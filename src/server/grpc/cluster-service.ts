import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { JsonObject } from "./bridge.js";
import type { GrpcContext } from "./context.js";
import { unaryHandlers } from "./unary.js";

/**
 * etcd's peer URLs ("http://10.0.0.1:2380") as Conclave's peer addresses
 * ("10.0.0.1:2380"): Raft peers speak Conclave's own protocol, not HTTP, so
 * only the host and port mean anything. Anything else is passed on as it
 * came, for the route to refuse with its message.
 */
export function peerAddressOf(url: unknown): unknown {
  if (typeof url !== "string" || !/^https?:\/\//i.test(url)) return url;
  try {
    const parsed = new URL(url);
    const bare = parsed.pathname === "/" && parsed.search === "" && parsed.hash === "";
    return bare && parsed.port !== "" && parsed.username === "" ? parsed.host : url;
  } catch {
    return url;
  }
}

function peerAddresses(message: JsonObject): unknown {
  const urls = message["peerURLs"];
  return Array.isArray(urls) ? urls.map(peerAddressOf) : urls;
}

/**
 * etcd's Cluster service over the HTTP cluster routes, whose bodies are
 * etcd's Member messages already (ID as a uint64 string, name, peerURLs,
 * clientURLs, isLearner). Two differences are bridged here: etcd adds a
 * voter unless isLearner is set, where the HTTP route adds a learner unless
 * told otherwise; and peer URLs become host:port.
 */
export function clusterService(ctx: GrpcContext): UntypedServiceImplementation {
  return unaryHandlers(ctx.bridge, {
    MemberAdd: {
      path: "/v3/cluster/member/add",
      request: (m) => ({ peerURLs: peerAddresses(m) ?? [], isLearner: m["isLearner"] === true }),
    },
    MemberRemove: { path: "/v3/cluster/member/remove", request: (m) => ({ ID: m["ID"] ?? "0" }) },
    MemberUpdate: {
      path: "/v3/cluster/member/update",
      // No peer URLs leaves the address as it is (etcd would clear it, which no member survives).
      request: (m) => {
        const peers = peerAddresses(m);
        const some = Array.isArray(peers) && peers.length > 0;
        return { ID: m["ID"] ?? "0", ...(some && { peerURLs: peers }) };
      },
    },
    MemberList: { path: "/v3/cluster/member/list" },
    MemberPromote: {
      path: "/v3/cluster/member/promote",
      request: (m) => ({ ID: m["ID"] ?? "0" }),
    },
  });
}
