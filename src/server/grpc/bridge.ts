import type { Metadata, ServerErrorResponse } from "@grpc/grpc-js";
import type { AuthContext } from "@grpc/grpc-js/build/src/auth-context.js";
import type { FastifyInstance } from "fastify";
import { IN_PROCESS_CN_HEADER } from "../in-process-identity.js";
import { type EtcdStatus, etcdStatus } from "./status.js";

/** A JSON object as the HTTP routes answer it (etcd's gateway shape). */
export type JsonObject = Record<string, unknown>;

/** A failed call, carrying etcd's gRPC status and Conclave's own code. */
export class GrpcCallError extends Error implements Partial<ServerErrorResponse> {
  readonly code: EtcdStatus["code"];
  readonly details: string;

  constructor(
    status: EtcdStatus,
    /** Conclave's error code, as the HTTP API names it. */
    readonly conclaveCode: string,
  ) {
    super(status.details);
    this.name = "GrpcCallError";
    this.code = status.code;
    this.details = status.details;
  }
}

/** The gRPC peer's address ("ipv4:1.2.3.4:5", "ipv6:[::1]:5", "1.2.3.4:5") as an IP. */
export function peerIp(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  if (bare.startsWith("[")) return bare.slice(1, bare.indexOf("]"));
  const colon = bare.lastIndexOf(":");
  return colon === -1 ? bare : bare.slice(0, colon);
}

/**
 * The credential a gRPC call carries: etcd's clients send their token in
 * the `token` metadata; `authorization` is accepted too.
 */
export function authorizationOf(metadata: Metadata): string | undefined {
  for (const name of ["token", "authorization"]) {
    const value = metadata.get(name)[0];
    if (typeof value === "string" && value !== "") return value;
  }
  return undefined;
}

/** What the bridge reads of a gRPC call. */
export interface BridgedCall {
  readonly metadata: Metadata;
  getPeer(): string;
  getAuthContext?(): AuthContext;
}

/**
 * The CN of the client certificate the gRPC listener verified (it asks for
 * one only when the client API has a client CA, and refuses calls without).
 */
export function certificateCnOf(call: BridgedCall): string | undefined {
  const cn = call.getAuthContext?.().sslPeerCertificate?.subject?.CN;
  return typeof cn === "string" && cn !== "" ? cn : undefined;
}

/**
 * Serves a gRPC call through the HTTP route that implements it, in process
 * (fastify's inject: no socket, no second parse of the wire). The request
 * message decodes to the route's JSON body (see protos.ts), so the call goes
 * through the one validation, access table, quota check, forwarding and
 * error mapping that every HTTP request goes through.
 */
export class RouteBridge {
  constructor(private readonly app: FastifyInstance) {}

  async post(path: string, body: unknown, call: BridgedCall): Promise<JsonObject> {
    const authorization = authorizationOf(call.metadata);
    const cn = certificateCnOf(call);
    const res = await this.app.inject({
      method: "POST",
      url: path,
      payload: (body ?? {}) as JsonObject,
      headers: {
        host: "localhost",
        "content-type": "application/json",
        ...(authorization !== undefined && { authorization }),
        ...(cn !== undefined && {
          [IN_PROCESS_CN_HEADER]: this.app.inProcessIdentity.headerFor(cn),
        }),
      },
      remoteAddress: peerIp(call.getPeer()),
    });
    let parsed: unknown;
    try {
      parsed = res.json();
    } catch {
      parsed = undefined;
    }
    const reply = (typeof parsed === "object" && parsed !== null ? parsed : {}) as JsonObject;
    if (res.statusCode === 200) return reply;
    const code = typeof reply["code"] === "string" ? reply["code"] : "INTERNAL";
    const message =
      typeof reply["message"] === "string" ? reply["message"] : `HTTP ${res.statusCode}`;
    throw new GrpcCallError(etcdStatus(code, message, res.statusCode), code);
  }
}
