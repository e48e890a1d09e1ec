/**
 * The two servers a differential run drives with the same operations: a
 * private etcd 3.4 and a Conclave cluster. KV calls go over gRPC to both.
 * Conclave's lease and watch calls go to its HTTP API (the routes its gRPC
 * Lease service answers through, and the watch stream its gRPC Watch
 * service serves), so the comparison covers the key space's semantics and
 * the answer shapes both APIs share.
 */
import { etcdStatus } from "../../../src/server/grpc/status.js";
import { type CallOutcome, type Message, RawEtcdClient } from "./raw-grpc.js";

export interface WatchRequest {
  readonly key: string;
  readonly range_end?: string;
  readonly start_revision: string;
  readonly prev_kv?: boolean;
}

/** What a watch delivered: events, or that its start revision was compacted. */
export type WatchOutcome =
  | { readonly events: Message[] }
  | { readonly compact_revision: string }
  | { readonly error: string };

export interface DiffTarget {
  readonly name: string;
  kv(
    method: "Range" | "Put" | "DeleteRange" | "Txn" | "Compact",
    req: Message,
  ): Promise<CallOutcome>;
  lease(method: "LeaseGrant" | "LeaseRevoke", req: Message): Promise<CallOutcome>;
  /**
   * The JSON gateway's answer to `body` at `path` (etcd's grpc-gateway, or
   * Conclave's HTTP API); a refusal only by its HTTP status, as the two
   * servers' error bodies differ by design.
   */
  gateway(path: string, body: Message): Promise<Message | { readonly status: number }>;
  /** Watches until `done(events so far)` or `timeoutMs`; the watch is cancelled either way. */
  watch(
    req: WatchRequest,
    done: (events: readonly Message[]) => boolean,
    timeoutMs: number,
  ): Promise<WatchOutcome>;
  close(): void;
}

/** A server reached over gRPC only (the real etcd). */
export function grpcTarget(name: string, address: string): DiffTarget {
  const client = new RawEtcdClient(address);
  return {
    name,
    kv: (method, req) => client.unary("KV", method, req),
    lease: (method, req) => client.unary("Lease", method, req),
    gateway: (path, body) => gatewayPost(`http://${address}`, path, body),
    watch: (req, done, timeoutMs) => grpcWatch(client, req, done, timeoutMs),
    close: () => client.close(),
  };
}

function grpcWatch(
  client: RawEtcdClient,
  req: WatchRequest,
  done: (events: readonly Message[]) => boolean,
  timeoutMs: number,
): Promise<WatchOutcome> {
  return new Promise((resolve) => {
    const stream = client.watch();
    const events: Message[] = [];
    let settled = false;
    const finish = (outcome: WatchOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.cancel();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ error: "timeout" }), timeoutMs);
    stream.on("data", (m: Message) => {
      if (m["compact_revision"] !== undefined && m["compact_revision"] !== "0") {
        finish({ compact_revision: String(m["compact_revision"]) });
        return;
      }
      events.push(...((m["events"] as Message[] | undefined) ?? []));
      if (done(events)) finish({ events });
    });
    stream.on("error", () => finish({ error: "stream error" }));
    stream.write({ create_request: req });
  });
}

/** Conclave: KV over gRPC to `grpcAddress`, leases and watches over its HTTP API at `url`. */
export function conclaveTarget(name: string, grpcAddress: string, url: string): DiffTarget {
  const client = new RawEtcdClient(grpcAddress);
  return {
    name,
    kv: (method, req) => client.unary("KV", method, req),
    lease: (method, req) =>
      httpUnary(url, method === "LeaseGrant" ? "/v3/lease/grant" : "/v3/lease/revoke", req),
    gateway: (path, body) => gatewayPost(url, path, body),
    watch: (req, done, timeoutMs) => sseWatch(url, req, done, timeoutMs),
    close: () => client.close(),
  };
}

async function gatewayPost(
  url: string,
  path: string,
  body: Message,
): Promise<Message | { readonly status: number }> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const answer = (await res.json()) as Message;
  return res.ok ? answer : { status: res.status };
}

async function httpUnary(url: string, path: string, body: Message): Promise<CallOutcome> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const answer = (await res.json()) as Message;
  if (res.ok) return { ok: true, message: answer };
  const status = etcdStatus(String(answer["code"]), String(answer["message"]), res.status);
  return { ok: false, code: status.code, details: status.details };
}

async function sseWatch(
  url: string,
  req: WatchRequest,
  done: (events: readonly Message[]) => boolean,
  timeoutMs: number,
): Promise<WatchOutcome> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const events: Message[] = [];
  try {
    const res = await fetch(`${url}/v3/watch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(req),
      signal: abort.signal,
    });
    if (res.body === null) return { error: `HTTP ${res.status} without a body` };
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of res.body) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      for (let end = buffered.indexOf("\n\n"); end !== -1; end = buffered.indexOf("\n\n")) {
        const frame = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (data === undefined) continue;
        const body = JSON.parse(data) as Message;
        if (event === "error") {
          return body["compact_revision"] !== undefined
            ? { compact_revision: String(body["compact_revision"]) }
            : { error: String(body["code"]) };
        }
        if (event !== "events") continue;
        events.push(...((body["events"] as Message[] | undefined) ?? []));
        if (done(events)) return { events };
      }
    }
    return { error: "stream ended" };
  } catch {
    return { error: "timeout" };
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
