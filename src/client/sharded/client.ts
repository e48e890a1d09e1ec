import type { IncomingMessage } from "node:http";
import { shardOf as shardOfBytes } from "../../shard/keys.js";
import { type AttemptOutcome, CallAttempts, readJson, sendAttempt } from "../attempt.js";
import { credentialsFrom, TokenSource } from "../auth-token.js";
import { authenticateJson, authenticateResult } from "../auth-wire.js";
import { type BackoffOptions, backoffDelayMs, type RandomSource } from "../backoff.js";
import { type Bytes, prefixEnd, rangeStart, toBytes } from "../bytes.js";
import { callDeadline, Deadline } from "../deadline.js";
import { EndpointPool, normalizeEndpoint } from "../endpoints.js";
import {
  AbortedError,
  BadResponseError,
  ClientClosedError,
  ClientError,
  NotLeaderError,
  UnavailableError,
} from "../errors.js";
import { ClientAgents, type TlsOptions, validateTls } from "../http-agents.js";
import type { Json } from "../json-read.js";
import type { KeyValue } from "../key-value.js";
import type {
  DeleteResult,
  PutOptions,
  PutResult,
  RangeResult,
  TxnOp,
  TxnRequest,
  TxnResult,
} from "../kv-types.js";
import {
  deleteJson,
  deleteResult,
  putJson,
  putResult,
  rangeJson,
  rangeResult,
  txnJson,
  txnResult,
} from "../kv-wire.js";
import type { CallKind } from "../retry-policy.js";
import { type CallOptions, newIdempotencyKey } from "../transport.js";
import {
  CrossShardError,
  NotControllerError,
  ShardNotLeaderError,
  shardErrorFromServer,
  WrongShardError,
} from "./errors.js";
import { type OpenShardStream, type ShardWatchOptions, ShardWatchStream } from "./watch.js";
import {
  moveResult,
  type ShardGroup,
  type ShardMap,
  type ShardStatus,
  shardMapResult,
  shardStatusResult,
} from "./wire.js";

export interface ShardedClientOptions {
  /** Base URLs of some of the cluster's nodes; the map names the rest. */
  readonly endpoints: readonly string[];
  /** Default budget of each call, retries, redirects and map refreshes included. Default 5000. */
  readonly requestTimeoutMs?: number;
  /** The most requests one call sends (a range: per shard). Default 10. */
  readonly maxAttempts?: number;
  /** Jitter source for retry backoff; seed it in tests. Default Math.random. */
  readonly random?: RandomSource;
  readonly backoff?: BackoffOptions;
  /** The largest JSON answer accepted; a bigger one is a BadResponseError. Default 64 MiB. */
  readonly maxResponseBytes?: number;
  /** How many shards a range asks at once. Default 16. */
  readonly rangeConcurrency?: number;
  readonly tls?: TlsOptions;
  /** Calls are made as this user (see ClientOptions). */
  readonly username?: string;
  readonly password?: string;
  readonly token?: string;
}

/** A write's answer, with the shard that applied it; `revision` is that shard's. */
export interface ShardPutResult extends PutResult {
  readonly shard: number;
}

export interface ShardDeleteResult extends DeleteResult {
  readonly shard: number;
}

export interface ShardTxnResult extends TxnResult {
  readonly shard: number;
}

export interface ShardRangeOptions extends CallOptions {
  /** At most this many keys in all (0 or absent: no limit). */
  readonly limit?: number;
  readonly keysOnly?: boolean;
  /** Each shard answers from the replica's local state (may be stale). */
  readonly serializable?: boolean;
}

/**
 * A range over every shard. There is no revision across shards: each shard
 * read at its own revision, listed in `revisions`, and the reads were not
 * taken at one instant, so the result is not a snapshot of the whole key
 * space (a txn across shards could show half done).
 */
export interface ShardRangeResult {
  /** In ascending key order, at most `limit`. */
  readonly kvs: KeyValue[];
  /** Shard → the revision it read at. */
  readonly revisions: Map<number, number>;
  /** Some key of the range was left out by `limit`. */
  readonly more: boolean;
  /** Keys in the range, summed over the shards. */
  readonly count: number;
}

export interface ShardTxnOptions extends CallOptions {
  /**
   * The shard to run on. Default: the shard of its keys, which must all be
   * the same (hash tags: keys sharing `{tag}` do).
   */
  readonly shard?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_ATTEMPTS = 10;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const DEFAULT_RANGE_CONCURRENCY = 16;

const MAP_PATH = "/v3/shard/map";
const STATUS_PATH = "/v3/shard/status";
const KV_RANGE = "/v3/shard/kv/range";
const WATCH_PATH = "/v3/shard/watch";

interface Request {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly body?: unknown;
  readonly kind: CallKind;
  /** Sent without a token: authentication itself. */
  readonly anonymous?: boolean;
  /** A streaming answer: a connection of its own, held while the stream is read. */
  readonly stream?: boolean;
}

/** Where one call goes and what an answer teaches about where to go. */
interface Target {
  /** Endpoints to try, best first. */
  candidates(): string[];
  /** After an error answer from `endpoint`: where to go at once, if anywhere. */
  redirect(error: ClientError, endpoint: string, deadline: Deadline): Promise<string | undefined>;
  succeeded(endpoint: string, value: unknown): void;
}

/**
 * A client for a sharded Conclave cluster (`conclave serve --shards N`).
 *
 * It caches the shard map and sends each call to its shard's leader: the
 * leader the map names, then the one a NOT_LEADER answer names, falling
 * back to the shard's other replicas and then to any endpoint. A
 * WRONG_SHARD answer, or an epoch in an answer newer than the map's, makes
 * it fetch the map again. Retries wait a jittered backoff, all within the
 * call's deadline; a write keeps one idempotency key across its retries, so
 * the shard applies it once.
 *
 * Keys map to shards by `shardOf` (murmur3 and jump hash, with Redis
 * Cluster hash tags: only the part between the first `{` and the next `}`
 * is hashed). A txn runs on one shard; `range` asks every shard and merges.
 */
export class ShardedClient implements AsyncDisposable {
  readonly endpoints: readonly string[];
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly random: RandomSource;
  private readonly backoff: BackoffOptions;
  private readonly maxResponseBytes: number;
  private readonly rangeConcurrency: number;
  private readonly agents: ClientAgents;
  private readonly tokens: TokenSource | undefined;
  private cached: ShardMap | undefined;
  /** Node id → its client URL, from the cached map. */
  private nodeUrls = new Map<number, string>();
  /** Shard → the endpoint that last served it or that a NOT_LEADER named. */
  private readonly preferred = new Map<number, string>();
  /** Shard → replicas a WRONG_SHARD answer named, until the next map. */
  private readonly replicaHints = new Map<number, string[]>();
  private controllerHint: string | undefined;
  private mapFetch: Promise<ShardMap> | undefined;
  private readonly watches = new Set<ShardWatchStream>();
  private closed = false;

  constructor(options: ShardedClientOptions) {
    this.endpoints = new EndpointPool(options.endpoints).endpoints;
    this.timeoutMs = positive(options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS, "requestTimeoutMs");
    this.maxAttempts = positiveInt(options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, "maxAttempts");
    this.maxResponseBytes = positiveInt(
      options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      "maxResponseBytes",
    );
    this.rangeConcurrency = positiveInt(
      options.rangeConcurrency ?? DEFAULT_RANGE_CONCURRENCY,
      "rangeConcurrency",
    );
    this.random = options.random ?? Math.random;
    this.backoff = options.backoff ?? {};
    this.agents = new ClientAgents(validateTls(options.tls));
    const credentials = credentialsFrom(options);
    this.tokens =
      credentials === undefined
        ? undefined
        : new TokenSource(credentials, (username, password) =>
            this.authenticate(username, password),
          );
  }

  // ---- keys -----------------------------------------------------------------------

  /** The shard (1..shardCount) of `key`, by the cached map; `await map()` once before. */
  shardOf(key: Bytes): number {
    const map = this.cached;
    if (map === undefined) {
      throw new ClientError("INVALID_ARGUMENT", "no shard map yet: await client.map() first");
    }
    return shardOfBytes(toBytes(key), map.shardCount);
  }

  /** One key's current (or `revision`'s) state, undefined when absent. */
  async get(
    key: Bytes,
    options: { serializable?: boolean; revision?: number } & CallOptions = {},
  ): Promise<KeyValue | undefined> {
    const body = rangeJson({ ...pickRange(options), key });
    const answer = await this.keyCall(key, KV_RANGE, body, "read", options);
    return rangeResult(answer.value, "range").kvs[0];
  }

  async put(
    key: Bytes,
    value: Bytes,
    options: PutOptions & CallOptions = {},
  ): Promise<ShardPutResult> {
    const body = putJson(key, value, options);
    const answer = await this.keyCall(key, "/v3/shard/kv/put", body, "keyed-write", options);
    return { ...putResult(answer.value), shard: answer.shard };
  }

  /** Deletes one key. A range of keys spans shards: delete them key by key, or in a txn per shard. */
  async delete(
    key: Bytes,
    options: { prevKv?: boolean } & CallOptions = {},
  ): Promise<ShardDeleteResult> {
    const body = deleteJson(key, options.prevKv === undefined ? {} : { prevKv: options.prevKv });
    const path = "/v3/shard/kv/deleterange";
    const answer = await this.keyCall(key, path, body, "keyed-write", options);
    return { ...deleteResult(answer.value), shard: answer.shard };
  }

  /**
   * A transaction on one shard: every compare and op key must map to the
   * same shard (or to `options.shard`), else a CrossShardError before
   * anything is sent. A range op or compare covers only its shard's part of
   * its range.
   */
  async txn(request: TxnRequest, options: ShardTxnOptions = {}): Promise<ShardTxnResult> {
    using deadline = this.deadline(options);
    const map = await this.ensureMap(deadline);
    const keys = txnKeys(request);
    const shards = [...new Set(keys.map((k) => shardOfBytes(k, map.shardCount)))].sort(
      (a, b) => a - b,
    );
    let shard = options.shard;
    if (shard !== undefined) {
      checkShard(shard, map);
      if (shards.some((s) => s !== shard)) {
        throw new CrossShardError(
          `the txn's keys map to shards ${shards.join(", ")}, not only to shard ${shard}`,
          shards,
        );
      }
    } else if (shards.length !== 1) {
      throw new CrossShardError(
        shards.length === 0
          ? "a txn that names no key needs options.shard"
          : `the txn's keys map to shards ${shards.join(", ")}; a txn runs on one shard (share a {hash tag} to keep keys together)`,
        shards,
      );
    }
    shard ??= shards[0]!;
    const value = await this.loop(
      this.shardTarget(shard),
      {
        method: "POST",
        path: "/v3/shard/kv/txn",
        body: { ...txnJson(request), shard },
        kind: "keyed-write",
      },
      deadline,
    );
    return { ...txnResult(value), shard };
  }

  /**
   * Every key from `key` to `rangeEnd` (exclusive; `"\0"`: every key >=
   * `key`), or every key starting with `key` when `rangeEnd` is undefined
   * (`range("")`: all keys). Asks every shard (`rangeConcurrency` at once,
   * following each shard's pages at that shard's revision) and merges them in
   * key order. Each shard reads at its own revision (`revisions`): there is
   * no revision across shards.
   */
  async range(
    key: Bytes,
    rangeEnd?: Bytes,
    options: ShardRangeOptions = {},
  ): Promise<ShardRangeResult> {
    const limit = options.limit ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new ClientError(
        "INVALID_ARGUMENT",
        `limit must be a non-negative integer, got ${limit}`,
      );
    }
    const asked = toBytes(key);
    const end = rangeEnd === undefined ? prefixEnd(asked) : toBytes(rangeEnd);
    const start = rangeStart(asked);
    // One failed shard fails the range: the others stop at once.
    const stop = new AbortController();
    const onCallerAbort = () => stop.abort(options.signal?.reason);
    if (options.signal?.aborted) onCallerAbort();
    else options.signal?.addEventListener("abort", onCallerAbort, { once: true });
    try {
      using deadline = this.deadline({ ...options, signal: stop.signal });
      const map = await this.ensureMap(deadline);
      const shards = Array.from({ length: map.shardCount }, (_, i) => i + 1);
      const parts = await eachLimited(shards, this.rangeConcurrency, stop, (shard) =>
        this.rangeShard(shard, start, end, limit, options, deadline),
      );
      const merged = parts.flatMap((p) => p.kvs).sort((a, b) => Buffer.compare(a.key, b.key));
      const kvs = limit > 0 ? merged.slice(0, limit) : merged;
      return {
        kvs,
        revisions: new Map(parts.map((p) => [p.shard, p.revision])),
        more: kvs.length < merged.length || parts.some((p) => p.more),
        count: parts.reduce((sum, p) => sum + p.count, 0),
      };
    } catch (error) {
      // The caller's own abort, not the stop the first failure sent the others.
      if (error instanceof AbortedError && options.signal?.aborted !== true) {
        throw (error.cause as unknown) ?? error;
      }
      throw error;
    } finally {
      options.signal?.removeEventListener("abort", onCallerAbort);
    }
  }

  // ---- watch ------------------------------------------------------------------------

  /**
   * Changes to a key (its shard's stream) or to a range (`rangeEnd`, or
   * `prefix: true`; one stream per shard), as one async iterable of
   * batches. Each batch is one revision of one shard and names that shard;
   * `revision` is the shard's own. Per shard, batches come in revision
   * order, each once; across shards there is no order and no common
   * revision.
   *
   * Each shard's stream is served by any replica of the shard, the leader
   * by preference. When a stream ends or breaks (its replica moved away,
   * its node failed), the watch finds the shard again (the map, then
   * another replica) and resumes from the last revision it delivered + 1,
   * after a bounded, jittered backoff; nothing is lost or repeated. It ends
   * on cancel(), the caller's signal or the client's close, and throws a
   * CompactedError if a shard's resume point was compacted, or any error a
   * retry cannot fix.
   */
  watch(key: Bytes, options: ShardWatchOptions = {}): ShardWatchStream {
    if (this.closed) throw new ClientClosedError();
    const single = options.prefix !== true && options.rangeEnd === undefined;
    const stream: ShardWatchStream = new ShardWatchStream(
      {
        shards: async (signal) => {
          using deadline = this.deadline({ signal });
          const map = await this.ensureMap(deadline);
          if (single) return [shardOfBytes(toBytes(key), map.shardCount)];
          return Array.from({ length: map.shardCount }, (_, i) => i + 1);
        },
        shardCount: () => this.cached?.shardCount ?? 0,
        open: (shard, body, signal, avoid) =>
          this.openWatch(shard, body, avoid, { signal, ...pickTimeout(options) }),
        lost: (shard, endpoint) => {
          if (this.preferred.get(shard) === endpoint) this.preferred.delete(shard);
          this.refreshSoon();
        },
        retryDelayMs: (retry) => backoffDelayMs(retry, this.random, this.backoff),
      },
      key,
      { ...options, onClose: () => this.watches.delete(stream) },
    );
    if (!options.signal?.aborted) this.watches.add(stream);
    return stream;
  }

  /** A watch stream on a replica of `shard`, answered 200 and not yet read. */
  private async openWatch(
    shard: number,
    body: Json,
    avoid: string | undefined,
    options: CallOptions,
  ): Promise<OpenShardStream> {
    const deadline = this.deadline(options);
    try {
      const shardTarget = this.shardTarget(shard);
      // Any replica serves a watch: the usual order (the leader first), the
      // replica whose stream just ended last, and nothing learnt for kv calls.
      const target: Target = {
        candidates: () => {
          const all = shardTarget.candidates();
          return avoid === undefined || all.length < 2
            ? all
            : [...all.filter((u) => u !== avoid), avoid];
        },
        redirect: (error, endpoint, d) => shardTarget.redirect(error, endpoint, d),
        succeeded: () => {},
      };
      const request = {
        method: "POST",
        path: WATCH_PATH,
        body: { ...(body as object), shard },
        kind: "read",
        stream: true,
      } as const;
      const opened = await this.loop(target, request, deadline, async (response, endpoint) => ({
        response,
        endpoint,
      }));
      deadline.disarm();
      return {
        endpoint: opened.endpoint,
        body: opened.response,
        close: () => {
          opened.response.destroy();
          deadline[Symbol.dispose]();
        },
      };
    } catch (error) {
      deadline[Symbol.dispose]();
      throw error;
    }
  }

  // ---- map and controller ---------------------------------------------------------

  /** The map as last fetched; undefined before the first call. */
  get cachedMap(): ShardMap | undefined {
    return this.cached;
  }

  /** Fetches the shard map from any node (the newest the client has seen is kept). */
  async map(options: CallOptions = {}): Promise<ShardMap> {
    using deadline = this.deadline(options);
    return await this.refreshMap(deadline);
  }

  /** The controller's view of nodes and groups. */
  async status(options: CallOptions = {}): Promise<ShardStatus> {
    const request = { method: "GET", path: STATUS_PATH, kind: "read" } as const;
    return shardStatusResult(await this.controllerCall(request, options));
  }

  /** Marks a node draining (the controller moves its replicas away) or, with false, not. */
  async drain(node: number, draining: boolean, options: CallOptions = {}): Promise<void> {
    checkId(node, "node");
    // Setting the flag twice sets it once: safe to repeat whatever happened.
    const body = { node, draining };
    await this.controllerCall(
      { method: "POST", path: "/v3/shard/drain", body, kind: "idempotent" },
      options,
    );
  }

  /** Moves `group`'s replica from node `from` to node `to`; resolves to the group's new epoch. */
  async move(
    group: number,
    from: number,
    to: number,
    options: CallOptions = {},
  ): Promise<{ epoch: number }> {
    if (!Number.isSafeInteger(group) || group < 0) {
      throw new ClientError("INVALID_ARGUMENT", `group must be an integer >= 0, got ${group}`);
    }
    checkId(from, "from");
    checkId(to, "to");
    // Sent again only when it certainly was not applied: a second move would be refused.
    const body = { group, from, to };
    const answer = await this.controllerCall(
      { method: "POST", path: "/v3/shard/move", body, kind: "write" },
      options,
    );
    return moveResult(answer);
  }

  /** Later calls throw CLIENT_CLOSED; watches end, open requests and idle sockets are destroyed. */
  close(): void {
    this.closed = true;
    for (const watch of [...this.watches]) watch.cancel();
    this.watches.clear();
    this.agents.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  // ---- routing ----------------------------------------------------------------------

  private deadline(options: CallOptions): Deadline {
    return callDeadline(options, this.timeoutMs, this.closed);
  }

  private async keyCall(
    key: Bytes,
    path: string,
    body: Json,
    kind: CallKind,
    options: CallOptions,
  ): Promise<{ value: unknown; shard: number }> {
    using deadline = this.deadline(options);
    const map = await this.ensureMap(deadline);
    const shard = shardOfBytes(toBytes(key), map.shardCount);
    const request = { method: "POST", path, body: { ...body, shard }, kind } as const;
    return { value: await this.loop(this.shardTarget(shard), request, deadline), shard };
  }

  private async controllerCall(request: Request, options: CallOptions): Promise<unknown> {
    using deadline = this.deadline(options);
    return await this.loop(this.controllerTarget(), request, deadline);
  }

  private async rangeShard(
    shard: number,
    start: Uint8Array,
    end: Uint8Array,
    limit: number,
    options: ShardRangeOptions,
    deadline: Deadline,
  ): Promise<{ shard: number; revision: number; kvs: KeyValue[]; more: boolean; count: number }> {
    const target = this.shardTarget(shard);
    const ask = async (key: Uint8Array, revision: number, pageLimit: number) => {
      const body = {
        ...rangeJson({ ...pickRange(options), key, rangeEnd: end, limit: pageLimit, revision }),
        shard,
      };
      const value = await this.loop(
        target,
        { method: "POST", path: KV_RANGE, body, kind: "read" },
        deadline,
      );
      return rangeResult(value, `range of shard ${shard}`);
    };
    const first = await ask(start, 0, limit);
    const kvs = [...first.kvs];
    let page: RangeResult = first;
    let from = start;
    // A page the server cut at its byte budget: the rest, at the first page's revision.
    while (page.more && page.nextKey !== undefined && (limit === 0 || kvs.length < limit)) {
      if (Buffer.compare(page.nextKey, from) <= 0) {
        throw new BadResponseError(`shard ${shard}: range next_key does not move forward`);
      }
      from = page.nextKey;
      page = await ask(from, first.revision, limit === 0 ? 0 : limit - kvs.length);
      kvs.push(...page.kvs);
    }
    return { shard, revision: first.revision, kvs, more: page.more, count: first.count };
  }

  private ensureMap(deadline: Deadline): Promise<ShardMap> {
    return this.cached !== undefined ? Promise.resolve(this.cached) : this.refreshMap(deadline);
  }

  /** Fetches the map; calls that need one at the same time share the request. */
  private refreshMap(deadline: Deadline): Promise<ShardMap> {
    this.mapFetch ??= (async () => {
      try {
        const target: Target = {
          candidates: () => this.anyEndpoint(),
          redirect: async () => undefined,
          succeeded: () => {},
        };
        const request = { method: "GET", path: MAP_PATH, kind: "read" } as const;
        return this.install(shardMapResult(await this.loop(target, request, deadline)));
      } finally {
        this.mapFetch = undefined;
      }
    })();
    return this.mapFetch;
  }

  /** A newer epoch was seen: fetch the map in the background, once at a time. */
  private refreshSoon(): void {
    if (this.mapFetch !== undefined || this.closed) return;
    const deadline = new Deadline(this.timeoutMs);
    this.refreshMap(deadline).then(
      () => deadline[Symbol.dispose](),
      () => deadline[Symbol.dispose](),
    );
  }

  /** Keeps `map` unless an older revision than the cached one. */
  private install(map: ShardMap): ShardMap {
    const current = this.cached;
    if (current !== undefined && map.revision < current.revision) return current;
    this.cached = map;
    const urls = new Map<number, string>();
    for (const node of map.nodes) {
      const url = this.url(node.client);
      if (url !== undefined) urls.set(node.id, url);
    }
    this.nodeUrls = urls;
    for (const [shard, endpoint] of this.preferred) {
      const group = this.group(shard);
      const hosts = group?.replicas.map((r) => urls.get(r)) ?? [];
      if (!hosts.includes(endpoint)) this.preferred.delete(shard);
    }
    this.replicaHints.clear();
    return map;
  }

  private group(shard: number): ShardGroup | undefined {
    return this.cached?.groups.find((g) => g.group === shard);
  }

  private epochOf(shard: number): number {
    return this.group(shard)?.epoch ?? 0;
  }

  private url(raw: string | undefined): string | undefined {
    if (raw === undefined || raw === "") return undefined;
    try {
      return normalizeEndpoint(raw);
    } catch {
      return undefined;
    }
  }

  private anyEndpoint(): string[] {
    return [...new Set([...this.endpoints, ...this.nodeUrls.values()])];
  }

  private shardTarget(shard: number): Target {
    return {
      candidates: () => {
        const out: string[] = [];
        const push = (url: string | undefined) => {
          if (url !== undefined && !out.includes(url)) out.push(url);
        };
        push(this.preferred.get(shard));
        const group = this.group(shard);
        if (group !== undefined && group.leader !== 0) push(this.nodeUrls.get(group.leader));
        for (const r of group?.replicas ?? []) push(this.nodeUrls.get(r));
        for (const url of this.replicaHints.get(shard) ?? []) push(url);
        for (const url of this.endpoints) push(url);
        return out;
      },
      redirect: async (error, endpoint, deadline) => {
        if (error instanceof NotLeaderError) {
          const epoch = error instanceof ShardNotLeaderError ? error.epoch : undefined;
          if (epoch !== undefined && epoch > this.epochOf(shard)) this.refreshSoon();
          const url =
            this.url(error.leaderUrl) ??
            (error.leader === undefined ? undefined : this.nodeUrls.get(error.leader));
          if (url !== undefined) this.preferred.set(shard, url);
          else if (this.preferred.get(shard) === endpoint) this.preferred.delete(shard);
          return url;
        }
        if (error instanceof WrongShardError) {
          if (this.preferred.get(shard) === endpoint) this.preferred.delete(shard);
          const named = error.replicas
            .map((r) => this.url(r.client))
            .filter((u): u is string => u !== undefined && u !== endpoint);
          try {
            await this.refreshMap(deadline);
          } catch {
            // The replicas it named are still worth a try; the loop ends on the deadline.
          }
          this.replicaHints.set(shard, named);
          const group = this.group(shard);
          // The new map's leader, else another of its replicas, else one the answer named:
          // never the node that just said it does not host the shard.
          const hosts = [group?.leader ?? 0, ...(group?.replicas ?? [])]
            .map((id) => this.nodeUrls.get(id))
            .filter((u): u is string => u !== undefined && u !== endpoint);
          return hosts[0] ?? named[0];
        }
        return undefined;
      },
      succeeded: (endpoint, value) => {
        this.preferred.set(shard, endpoint);
        const epoch = headerEpoch(value);
        if (epoch !== undefined && epoch > this.epochOf(shard)) this.refreshSoon();
      },
    };
  }

  private controllerTarget(): Target {
    return {
      candidates: () => {
        const hint = this.controllerHint;
        const rest = this.anyEndpoint();
        return hint === undefined ? rest : [hint, ...rest.filter((u) => u !== hint)];
      },
      redirect: async (error, endpoint) => {
        if (!(error instanceof NotControllerError)) return undefined;
        const url =
          this.url(error.controllerUrl) ??
          (error.controller === undefined ? undefined : this.nodeUrls.get(error.controller));
        if (url !== undefined) this.controllerHint = url;
        else if (this.controllerHint === endpoint) this.controllerHint = undefined;
        return url;
      },
      succeeded: (endpoint) => {
        this.controllerHint = endpoint;
      },
    };
  }

  private async authenticate(username: string, password: string): Promise<string> {
    using deadline = this.deadline({});
    const target: Target = {
      candidates: () => this.anyEndpoint(),
      redirect: async () => undefined,
      succeeded: () => {},
    };
    const request = {
      method: "POST",
      path: "/v3/auth/authenticate",
      body: authenticateJson(username, password),
      kind: "read",
      anonymous: true,
    } as const;
    return authenticateResult(await this.loop(target, request, deadline));
  }

  /**
   * Sends `request` until an endpoint answers it: the target's candidates in
   * order, a redirect at once (a second redirect to the same place waits its
   * backoff), everything else after a jittered backoff, while `mayRetry`
   * allows, within `maxAttempts` and the deadline.
   */
  private async loop<T = unknown>(
    target: Target,
    request: Request,
    deadline: Deadline,
    consume: (response: IncomingMessage, endpoint: string) => Promise<T> = (response) =>
      readJson(response, this.maxResponseBytes) as Promise<T>,
  ): Promise<T> {
    const idempotencyKey = request.kind === "keyed-write" ? newIdempotencyKey() : undefined;
    const body = request.method === "POST" ? JSON.stringify(request.body ?? {}) : undefined;
    const attempts = new CallAttempts(request.kind, this.tokens, request.anonymous === true);
    /** Failed in this round of the candidates; cleared when every one has. */
    const avoid = new Set<string>();
    const redirected = new Set<string>();
    let hint: string | undefined;
    let retry = 0;
    for (let sent = 0; ; ) {
      if (this.closed) throw new ClientClosedError();
      attempts.throwIfDone(deadline);
      let endpoint = hint;
      hint = undefined;
      if (endpoint === undefined) {
        const candidates = target.candidates();
        endpoint = candidates.find((c) => !avoid.has(c));
        if (endpoint === undefined) {
          avoid.clear();
          endpoint = candidates[0]!;
        }
      }
      const token = await attempts.token(deadline);
      let outcome: AttemptOutcome<T>;
      try {
        sent++;
        outcome = await sendAttempt(this.agents, {
          endpoint,
          method: request.method,
          path: request.path,
          ...(body !== undefined && { body }),
          idempotencyKey,
          token,
          ownConnection: request.kind === "write" || request.stream === true,
          deadline,
          maxResponseBytes: this.maxResponseBytes,
          errorFromServer: shardErrorFromServer,
          consume,
        });
      } catch (reason) {
        throw attempts.cutOff(reason, endpoint);
      }
      if (outcome.ok) {
        target.succeeded(endpoint, outcome.value);
        return outcome.value;
      }
      attempts.failed(endpoint, outcome);
      if (this.closed) throw new ClientClosedError();
      if (attempts.againAtOnce(outcome, token)) {
        hint = endpoint;
        continue;
      }
      attempts.throwUnlessRetryable(outcome, endpoint);
      if (sent >= this.maxAttempts) {
        throw attempts.exhausted(
          new UnavailableError(`no endpoint served the call in ${sent} attempts`),
        );
      }
      const next = await target.redirect(outcome.error, endpoint, deadline);
      avoid.add(endpoint);
      hint = next;
      if (next !== undefined && next !== endpoint && !redirected.has(next)) {
        redirected.add(next);
        await attempts.wait(deadline, 0);
      } else {
        await attempts.wait(deadline, backoffDelayMs(retry++, this.random, this.backoff));
      }
    }
  }
}

/** `header.epoch` of a shard kv answer, when it has one. */
function headerEpoch(value: unknown): number | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const header = (value as Json)["header"];
  if (typeof header !== "object" || header === null) return undefined;
  const epoch = Number((header as Json)["epoch"] ?? Number.NaN);
  return Number.isSafeInteger(epoch) ? epoch : undefined;
}

function pickTimeout(o: { timeoutMs?: number }): { timeoutMs?: number } {
  return o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs };
}

function pickRange(o: { serializable?: boolean; revision?: number; keysOnly?: boolean }) {
  return {
    ...(o.serializable !== undefined && { serializable: o.serializable }),
    ...(o.revision !== undefined && { revision: o.revision }),
    ...(o.keysOnly !== undefined && { keysOnly: o.keysOnly }),
  };
}

/** Every key a txn names: its compares' and its ops', nested txns' included. */
export function txnKeys(t: TxnRequest): Uint8Array[] {
  const keys = (t.compare ?? []).map((c) => toBytes(c.key));
  const ops = (op: TxnOp): Uint8Array[] => (op.type === "txn" ? txnKeys(op) : [toBytes(op.key)]);
  for (const op of [...(t.success ?? []), ...(t.failure ?? [])]) keys.push(...ops(op));
  return keys;
}

function checkShard(shard: number, map: ShardMap): void {
  if (!Number.isSafeInteger(shard) || shard < 1 || shard > map.shardCount) {
    throw new ClientError(
      "INVALID_ARGUMENT",
      `shard must be an integer in 1..${map.shardCount}, got ${shard}`,
    );
  }
}

function checkId(id: number, what: string): void {
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new ClientError("INVALID_ARGUMENT", `${what} must be a node id >= 1, got ${id}`);
  }
}

function positive(value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new ClientError("INVALID_ARGUMENT", `${what} must be positive, got ${value}`);
  }
  return value;
}

function positiveInt(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ClientError("INVALID_ARGUMENT", `${what} must be a positive integer, got ${value}`);
  }
  return value;
}

/** `fn` over `items`, at most `limit` at once, in order; the first failure aborts `stop` and is thrown. */
async function eachLimited<T, R>(
  items: readonly T[],
  limit: number,
  stop: AbortController,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stop.signal.aborted) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (error) {
        stop.abort(error);
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (stop.signal.aborted) throw stop.signal.reason;
  return results;
}
