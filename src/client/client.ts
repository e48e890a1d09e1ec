import { type Alarm, type AlarmType, alarmJson, alarmsResult } from "./alarm-wire.js";
import { AuthApi } from "./auth-api.js";
import { credentialsFrom } from "./auth-token.js";
import type { BackoffOptions, RandomSource } from "./backoff.js";
import { type Bytes, toBytes } from "./bytes.js";
import type { BatchOpName } from "./call-batcher.js";
import {
  describeFailure,
  type EndpointHealth,
  type EndpointStatus,
  endpointStatus,
  type MemberAddOptions,
  type MemberAddResult,
  type MemberListResult,
  memberAddJson,
  memberAddResult,
  memberListResult,
} from "./cluster-wire.js";
import { normalizeEndpoint } from "./endpoints.js";
import { ClientError, PermissionDeniedError, UnavailableError } from "./errors.js";
import { type TlsOptions, validateTls } from "./http-agents.js";
import { asObject, headerRevision } from "./json-read.js";
import { KeepAliveBatcher } from "./keepalive-batcher.js";
import type { KeyValue } from "./key-value.js";
import type {
  DeleteOptions,
  DeleteResult,
  PutOptions,
  PutResult,
  RangeRequest,
  RangeResult,
  TxnRequest,
  TxnResult,
} from "./kv-types.js";
import {
  deleteJson,
  deleteResult,
  putJson,
  putResult,
  rangeJson,
  rangeResult,
  rawValuePath,
  txnJson,
  txnResult,
} from "./kv-wire.js";
import { LeaseKeeper, type LeaseKeeperOptions } from "./lease-keeper.js";
import {
  type LeaseGrantResult,
  type LeaseKeepAliveResult,
  type LeaseListResult,
  type LeaseTimeToLiveResult,
  leaseGrantResult,
  leaseKeepAliveResult,
  leaseKeepAlivesResult,
  leaseListResult,
  leaseTimeToLiveResult,
} from "./lease-wire.js";
import { warnIfPlaintextCredentials } from "./plaintext-warning.js";
import { rangePages, scanRange } from "./range-pages.js";
import type { CallKind } from "./retry-policy.js";
import { type CallOptions, HttpTransport, type RequestSpec } from "./transport.js";
import { type WatchOptions, WatchStream } from "./watch-stream.js";

export interface ClientOptions {
  /** Base URLs of the cluster's nodes, e.g. `http://127.0.0.1:2379`. */
  readonly endpoints: readonly string[];
  /** Default budget of each call, retries included. Default 5000. */
  readonly timeoutMs?: number;
  /** Jitter source for retry backoff; seed it in tests. Default Math.random. */
  readonly random?: RandomSource;
  readonly backoff?: BackoffOptions;
  /** The largest JSON answer accepted; a bigger one is a BadResponseError. Default 64 MiB. */
  readonly maxResponseBytes?: number;
  /** For https endpoints: a private CA to trust, and a client certificate to present. */
  readonly tls?: TlsOptions;
  /**
   * Calls are made as this user: the client authenticates with `password`
   * before its first call and again before the token expires.
   */
  readonly username?: string;
  readonly password?: string;
  /** A token obtained elsewhere, sent as is and never renewed; excludes username/password. */
  readonly token?: string;
  /**
   * Keep-alives sent within this many milliseconds go out as one request
   * (`/v3/lease/keepalives`, one ReadIndex on the leader for all of them).
   * Default 20; 0 sends each keep-alive on its own.
   */
  readonly keepAliveBatchMs?: number;
  /**
   * Key-space calls (get, range, put, delete) made while this many requests
   * to a member are unanswered wait, and go out together in one request
   * (`/v3/kv/batch`) as soon as one of those answers: each call still gets
   * its own answer, revision and deadline, and nothing waits while fewer are
   * out. Default 4; 0 sends every call on its own. Puts and deletes asking
   * for previous values are always sent alone.
   */
  readonly batchInFlight?: number;
  /**
   * A put of a value this big or bigger sends the value as raw bytes
   * (`/v3/kv/value`) rather than as base64 text in JSON: a third fewer bytes,
   * and no text for the member to parse and decode. Default 64 KiB; 0 always
   * sends JSON. Puts with `prevKv`, `ignoreValue` or `ignoreLease` use JSON.
   * A member without that route (an older version) refuses it, and the
   * client then sends JSON from that put on.
   */
  readonly rawValueBytes?: number;
}

const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const DEFAULT_KEEPALIVE_BATCH_MS = 20;
const DEFAULT_BATCH_IN_FLIGHT = 4;
const DEFAULT_RAW_VALUE_BYTES = 64 * 1024;
/**
 * How a member without /v3/kv/value (an older version) answers a raw put:
 * no such route, or, where it reads every body before routing, a body type
 * it does not take. Either way nothing was applied.
 */
const RAW_VALUE_REFUSALS = new Set(["ROUTE_NOT_FOUND", "UNSUPPORTED_MEDIA_TYPE"]);
/** The server's limit on leases per keepalives request. */
const MAX_KEEPALIVE_BATCH = 1000;

/** Resources the client ends on close. */
interface Closable {
  close(): void;
}

/**
 * A client for a Conclave cluster's HTTP API: typed calls, leader discovery,
 * safe retries within a deadline, resuming watches and kept-alive leases.
 */
export class ConclaveClient implements AsyncDisposable {
  private readonly transport: HttpTransport;
  private readonly open = new Set<Closable>();
  private readonly keepAlives: KeepAliveBatcher | undefined;
  /** See ClientOptions.rawValueBytes; 0 once a member lacked the route. */
  private rawValueBytes: number;
  /** Users, roles, permissions and turning auth on and off. */
  readonly auth: AuthApi;

  constructor(options: ClientOptions) {
    const timeoutMs = options.timeoutMs ?? 5000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new ClientError("INVALID_ARGUMENT", `timeoutMs must be positive, got ${timeoutMs}`);
    }
    const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (!Number.isSafeInteger(maxResponseBytes) || maxResponseBytes <= 0) {
      throw new ClientError(
        "INVALID_ARGUMENT",
        `maxResponseBytes must be a positive integer, got ${maxResponseBytes}`,
      );
    }
    const credentials = credentialsFrom(options);
    const tls = validateTls(options.tls);
    const batchInFlight = options.batchInFlight ?? DEFAULT_BATCH_IN_FLIGHT;
    if (!Number.isSafeInteger(batchInFlight) || batchInFlight < 0) {
      throw new ClientError(
        "INVALID_ARGUMENT",
        `batchInFlight must be a non-negative integer, got ${batchInFlight}`,
      );
    }
    const rawValueBytes = options.rawValueBytes ?? DEFAULT_RAW_VALUE_BYTES;
    if (!Number.isSafeInteger(rawValueBytes) || rawValueBytes < 0) {
      throw new ClientError(
        "INVALID_ARGUMENT",
        `rawValueBytes must be a non-negative integer, got ${rawValueBytes}`,
      );
    }
    this.rawValueBytes = rawValueBytes;
    this.transport = new HttpTransport({
      maxResponseBytes,
      batchInFlight,
      endpoints: options.endpoints,
      timeoutMs,
      random: options.random ?? Math.random,
      backoff: options.backoff ?? {},
      ...(credentials !== undefined && { credentials }),
      ...(tls !== undefined && { tls }),
    });
    if (credentials !== undefined) warnIfPlaintextCredentials(this.transport.pool.endpoints);
    this.auth = new AuthApi(this.transport);
    const batchMs = options.keepAliveBatchMs ?? DEFAULT_KEEPALIVE_BATCH_MS;
    if (!Number.isFinite(batchMs) || batchMs < 0) {
      throw new ClientError(
        "INVALID_ARGUMENT",
        `keepAliveBatchMs must be a non-negative number, got ${batchMs}`,
      );
    }
    if (batchMs > 0) {
      this.keepAlives = new KeepAliveBatcher(
        async (ids, call) =>
          // A keepalive sent twice refreshes twice: safe to repeat whatever happened.
          leaseKeepAlivesResult(
            await this.call("/v3/lease/keepalives", { IDs: ids }, "idempotent", call),
            ids,
          ),
        batchMs,
        MAX_KEEPALIVE_BATCH,
      );
      this.open.add(this.keepAlives);
    }
  }

  /** The configured endpoints, normalized. */
  get endpoints(): readonly string[] {
    return this.transport.pool.endpoints;
  }

  /** The endpoint tried first: the last one that accepted a write. */
  get preferredEndpoint(): string {
    return this.transport.pool.first;
  }

  private call(
    path: string,
    body: unknown,
    kind: CallKind,
    options: CallOptions = {},
    batchAs?: BatchOpName,
  ) {
    const spec = { path, body, kind, ...(batchAs !== undefined && { batchAs }) };
    return this.transport.call(spec, options);
  }

  private sendsRaw(value: Uint8Array, o: PutOptions): boolean {
    return (
      this.rawValueBytes > 0 &&
      value.byteLength >= this.rawValueBytes &&
      o.prevKv !== true &&
      o.ignoreValue !== true &&
      o.ignoreLease !== true
    );
  }

  // ---- key space ------------------------------------------------------------------

  /** One key's current (or `revision`'s) state, undefined when absent. */
  async get(
    key: Bytes,
    options: { serializable?: boolean; revision?: number } & CallOptions = {},
  ): Promise<KeyValue | undefined> {
    const result = await this.range({ ...options, key });
    return result.kvs[0];
  }

  async range(request: RangeRequest & CallOptions): Promise<RangeResult> {
    const body = rangeJson(request);
    return rangeResult(await this.call("/v3/kv/range", body, "read", request, "request_range"));
  }

  /**
   * The range page by page, as the caller reads: each page within the
   * server's answer byte budget, all at the first page's revision.
   */
  rangePages(request: RangeRequest & CallOptions): AsyncGenerator<RangeResult, void, undefined> {
    return rangePages((r) => this.range({ ...request, ...r }), request);
  }

  /** Every key-value of the range in key order, fetched lazily page by page (see rangePages). */
  scan(request: RangeRequest & CallOptions): AsyncGenerator<KeyValue, void, undefined> {
    return scanRange((r) => this.range({ ...request, ...r }), request);
  }

  async put(key: Bytes, value: Bytes, options: PutOptions & CallOptions = {}): Promise<PutResult> {
    const bytes = toBytes(value);
    // A previous value can be as big as the value: asked for alone (see batchInFlight).
    const batchAs = options.prevKv === true ? undefined : "request_put";
    const json = (): RequestSpec => ({
      path: "/v3/kv/put",
      body: putJson(key, bytes, options),
      kind: "keyed-write",
      ...(batchAs !== undefined && { batchAs }),
    });
    if (!this.sendsRaw(bytes, options))
      return putResult(await this.transport.call(json(), options));
    const raw: RequestSpec = {
      path: rawValuePath(key, options),
      body: undefined,
      bytes,
      kind: "keyed-write",
    };
    // Nothing was applied when a member has no such route: JSON, from now on.
    const refused = (error: unknown) => {
      const lacksRoute = error instanceof ClientError && RAW_VALUE_REFUSALS.has(error.code);
      if (lacksRoute) this.rawValueBytes = 0;
      return lacksRoute;
    };
    return putResult(await this.transport.callOr(raw, json, refused, options));
  }

  async delete(key: Bytes, options: DeleteOptions & CallOptions = {}): Promise<DeleteResult> {
    const body = deleteJson(key, options);
    const batchAs = options.prevKv === true ? undefined : "request_delete_range";
    return deleteResult(
      await this.call("/v3/kv/deleterange", body, "keyed-write", options, batchAs),
    );
  }

  async txn(request: TxnRequest, options: CallOptions = {}): Promise<TxnResult> {
    return txnResult(await this.call("/v3/kv/txn", txnJson(request), "keyed-write", options));
  }

  /** Drops history below `revision`. Resolves to the store's revision. */
  async compact(revision: number, options: CallOptions = {}): Promise<{ revision: number }> {
    const answer = await this.call("/v3/kv/compaction", { revision }, "keyed-write", options);
    return { revision: headerRevision(asObject(answer, "compaction"), "compaction") };
  }

  // ---- leases ---------------------------------------------------------------------

  async leaseGrant(
    ttlSeconds: number,
    options: { id?: number } & CallOptions = {},
  ): Promise<LeaseGrantResult> {
    const body = { TTL: ttlSeconds, ...(options.id !== undefined && { ID: options.id }) };
    return leaseGrantResult(await this.call("/v3/lease/grant", body, "keyed-write", options));
  }

  async leaseRevoke(id: number, options: CallOptions = {}): Promise<{ revision: number }> {
    const answer = await this.call("/v3/lease/revoke", { ID: id }, "keyed-write", options);
    return { revision: headerRevision(asObject(answer, "lease revoke"), "lease revoke") };
  }

  /**
   * Refreshes a lease once. Keep-alives made within `keepAliveBatchMs` of
   * each other share one request; a lease the cluster does not know (or is
   * expiring) fails with LeaseNotFoundError either way.
   */
  async leaseKeepAliveOnce(id: number, options: CallOptions = {}): Promise<LeaseKeepAliveResult> {
    if (this.keepAlives !== undefined) return this.keepAlives.keepAlive(id, options);
    // A keepalive sent twice refreshes twice: safe to repeat whatever happened.
    const answer = await this.call("/v3/lease/keepalive", { ID: id }, "idempotent", options);
    return leaseKeepAliveResult(answer);
  }

  async leaseTimeToLive(
    id: number,
    options: { keys?: boolean } & CallOptions = {},
  ): Promise<LeaseTimeToLiveResult> {
    const body = { ID: id, ...(options.keys !== undefined && { keys: options.keys }) };
    return leaseTimeToLiveResult(await this.call("/v3/lease/timetolive", body, "read", options));
  }

  async leases(options: CallOptions = {}): Promise<LeaseListResult> {
    return leaseListResult(await this.call("/v3/lease/leases", {}, "read", options));
  }

  /**
   * Grants a lease and keeps it alive until revoked, disposed or lost;
   * `lease.signal` aborts when the lease may have expired.
   */
  async lease(
    ttlSeconds: number,
    options: Omit<LeaseKeeperOptions, "onClose" | "grantedAtMs"> & {
      id?: number;
    } & CallOptions = {},
  ): Promise<LeaseKeeper> {
    const grantedAtMs = Date.now();
    const granted = await this.leaseGrant(ttlSeconds, options);
    const keeper = new LeaseKeeper(this, granted, {
      grantedAtMs,
      ...options,
      onClose: () => this.open.delete(keeper),
    });
    this.open.add(keeper);
    return keeper;
  }

  // ---- watch ----------------------------------------------------------------------

  /**
   * Changes to a key or range as an async iterable of one batch per revision.
   * Survives dropped streams and lost servers by resuming from the last seen
   * revision + 1 on any endpoint.
   */
  watch(key: Bytes, options: WatchOptions = {}): WatchStream {
    // An already aborted signal closes the stream inside its constructor.
    let endedEarly = false;
    let opened: WatchStream | undefined;
    const stream = new WatchStream(this.transport, key, {
      ...options,
      onClose: () => {
        if (opened === undefined) endedEarly = true;
        else this.open.delete(opened);
      },
    });
    if (!endedEarly) {
      opened = stream;
      this.open.add(stream);
    }
    return stream;
  }

  // ---- cluster and maintenance -------------------------------------------------------

  async memberList(
    options: { serializable?: boolean } & CallOptions = {},
  ): Promise<MemberListResult> {
    const body = options.serializable === undefined ? {} : { serializable: options.serializable };
    return memberListResult(await this.call("/v3/cluster/member/list", body, "read", options));
  }

  async memberAdd(
    peerURLs: readonly string[],
    options: MemberAddOptions & CallOptions = {},
  ): Promise<MemberAddResult> {
    const body = memberAddJson(peerURLs, options);
    return memberAddResult(await this.call("/v3/cluster/member/add", body, "write", options));
  }

  async memberRemove(id: number, options: CallOptions = {}): Promise<MemberListResult> {
    const answer = await this.call("/v3/cluster/member/remove", { ID: id }, "write", options);
    return memberListResult(answer, "member remove");
  }

  async memberPromote(id: number, options: CallOptions = {}): Promise<MemberListResult> {
    const answer = await this.call("/v3/cluster/member/promote", { ID: id }, "write", options);
    return memberListResult(answer, "member promote");
  }

  /** One node's status: `endpoint`'s only when given (no failover), else any node's. */
  async status(endpoint?: string, options: CallOptions = {}): Promise<EndpointStatus> {
    const spec = { path: "/v3/maintenance/status", body: {}, kind: "read" as const };
    const answer = await this.transport.call(
      endpoint === undefined ? spec : { ...spec, endpoint: normalizeEndpoint(endpoint) },
      options,
    );
    return endpointStatus(answer);
  }

  /**
   * Whether `endpoint` serves as a healthy member, as etcdctl's endpoint
   * health decides: a linearizable read of the key `health` through that
   * endpoint alone (it succeeds only when the member reaches a quorum through
   * a leader), then the member's own status errors (alarms, peers it cannot
   * authenticate with). A PERMISSION_DENIED answer still went through
   * consensus, so it counts as healthy, as in etcd. Never throws for an
   * unhealthy member: the answer says why.
   */
  async endpointHealth(endpoint: string, options: CallOptions = {}): Promise<EndpointHealth> {
    const target = normalizeEndpoint(endpoint);
    const started = performance.now();
    const spec = {
      path: "/v3/kv/range",
      body: rangeJson({ key: "health" }),
      kind: "read" as const,
    };
    try {
      await this.transport.call({ ...spec, endpoint: target }, options);
    } catch (err) {
      if (!(err instanceof PermissionDeniedError)) {
        return {
          endpoint: target,
          health: false,
          tookMs: performance.now() - started,
          error: describeFailure(err),
        };
      }
    }
    const tookMs = performance.now() - started;
    try {
      const { errors } = await this.status(target, options);
      if (errors.length > 0)
        return { endpoint: target, health: false, tookMs, error: errors.join("; ") };
    } catch (err) {
      return { endpoint: target, health: false, tookMs, error: describeFailure(err) };
    }
    return { endpoint: target, health: true, tookMs };
  }

  /** Asks the leader to hand leadership to `targetId`. */
  async moveLeader(targetId: number, options: CallOptions = {}): Promise<void> {
    await this.call(
      "/v3/maintenance/transfer-leadership",
      { targetID: targetId },
      "write",
      options,
    );
  }

  /** Raised alarms, of one kind when `alarm` is given (etcdctl alarm list). */
  async alarms(options: { alarm?: AlarmType } & CallOptions = {}): Promise<Alarm[]> {
    const body = alarmJson("GET", options.alarm === undefined ? {} : { alarm: options.alarm });
    return alarmsResult(await this.call("/v3/maintenance/alarm", body, "read", options));
  }

  /**
   * Clears one member's alarm, or with no target every raised alarm (etcdctl
   * alarm disarm); resolves to the alarms that were cleared. Clear NOSPACE
   * after compacting: while the store is still past its quota, the next
   * write raises it again.
   */
  async disarmAlarm(target?: Alarm, options: CallOptions = {}): Promise<Alarm[]> {
    const targets = target === undefined ? await this.alarms(options) : [target];
    const cleared: Alarm[] = [];
    for (const t of targets) {
      // Clearing an alarm twice clears it once: safe to repeat.
      const answer = await this.call(
        "/v3/maintenance/alarm",
        alarmJson("DEACTIVATE", t),
        "idempotent",
        options,
      );
      cleared.push(...alarmsResult(answer, "alarm disarm"));
    }
    return cleared;
  }

  /**
   * The store's snapshot bytes from one node, streamed. The deadline covers the
   * first byte; a broken stream throws UnavailableError, the caller's signal AbortedError.
   */
  async *snapshot(options: CallOptions = {}): AsyncIterable<Uint8Array> {
    const spec = { path: "/v3/maintenance/snapshot", body: {}, kind: "read" as const };
    const opened = await this.transport.open(spec, options);
    try {
      for await (const chunk of opened.body) yield chunk;
    } catch (error) {
      if (opened.signal.aborted) throw opened.signal.reason;
      throw new UnavailableError(`the snapshot stream from ${opened.endpoint} broke`, error);
    } finally {
      opened.close();
    }
  }

  /** Ends every watch and lease keeper of this client; later calls throw CLIENT_CLOSED. */
  async close(): Promise<void> {
    this.transport.close();
    for (const resource of [...this.open]) resource.close();
    this.open.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
