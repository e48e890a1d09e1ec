import { status as GrpcCode, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { GrpcCallError, type JsonObject } from "./bridge.js";
import { authorizeCall } from "./call-auth.js";
import type { GrpcContext } from "./context.js";
import { heldId } from "./held-id.js";
import { unaryCall, unaryHandlers } from "./unary.js";

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

/** etcd's answer for a member id that is not in the cluster. */
export class GrpcMemberNotFoundError extends GrpcCallError {
  constructor() {
    super(
      { code: GrpcCode.NOT_FOUND, details: "etcdserver: member not found" },
      "MEMBER_NOT_FOUND",
    );
  }
}

/**
 * A member list as etcd's clients read it: they dial a member's client URLs
 * with gRPC (etcdctl --cluster, clientv3's endpoint sync), so the client URLs
 * are where the member serves the gRPC API; its HTTP URLs are not listed.
 * They are listed as host:port: etcd 3.4's clients send a URL's scheme on
 * in the HTTP/2 :authority header when they dial one member alone, which
 * Node's HTTP/2 server refuses as malformed (the client's TLS settings say
 * whether to use TLS either way).
 */
export function grpcMemberList(answer: JsonObject): JsonObject {
  const hostPort = (url: unknown) =>
    typeof url === "string" ? url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "") : url;
  const asGrpc = (m: JsonObject) => {
    const { grpcURLs, ...rest } = m;
    return { ...rest, clientURLs: Array.isArray(grpcURLs) ? grpcURLs.map(hostPort) : [] };
  };
  const { members, member } = answer;
  return {
    ...answer,
    ...(Array.isArray(members) && { members: members.map(asGrpc) }),
    ...(typeof member === "object" && member !== null && { member: asGrpc(member as JsonObject) }),
  };
}

/**
 * etcd's Cluster service over the HTTP cluster routes, whose bodies are
 * etcd's Member messages already (ID as a uint64 string, name, peerURLs,
 * clientURLs, isLearner). What differs is bridged here: etcd adds a voter
 * unless isLearner is set, where the HTTP route adds a learner unless told
 * otherwise; peer URLs become host:port; and a member id Conclave cannot
 * hold (0, 2^53 and above) is not found rather than malformed.
 */
export function clusterService(ctx: GrpcContext): UntypedServiceImplementation {
  /** A call on the member `ID` names, through `path` with the body `extra` adds. */
  const onMember = (path: string, extra: (m: JsonObject) => JsonObject = () => ({})) =>
    unaryCall(async (call) => {
      const message = call.request ?? {};
      const id = heldId(message["ID"]);
      if (id === undefined) {
        // Membership changes are the root role's: nobody else learns even that much.
        await authorizeCall(ctx.kv, call.metadata, "root");
        throw new GrpcMemberNotFoundError();
      }
      return grpcMemberList(await ctx.bridge.post(path, { ID: id, ...extra(message) }, call));
    });
  return {
    ...unaryHandlers(ctx.bridge, {
      MemberAdd: {
        path: "/v3/cluster/member/add",
        request: (m) => ({ peerURLs: peerAddresses(m) ?? [], isLearner: m["isLearner"] === true }),
        response: grpcMemberList,
      },
      MemberList: { path: "/v3/cluster/member/list", response: grpcMemberList },
    }),
    MemberRemove: onMember("/v3/cluster/member/remove"),
    MemberPromote: onMember("/v3/cluster/member/promote"),
    // No peer URLs leaves the address as it is (etcd would clear it, which no member survives).
    MemberUpdate: onMember("/v3/cluster/member/update", (m) => {
      const peers = peerAddresses(m);
      return Array.isArray(peers) && peers.length > 0 ? { peerURLs: peers } : {};
    }),
  };
}
