import { status as GrpcCode, type ServerDuplexStream } from "@grpc/grpc-js";
import { PermissionDeniedError } from "../../auth/index.js";
import { CompactedError, type WatchResponse } from "../../kv/index.js";
import { clientIdentity } from "../client-identity.js";
import type { ClosableStream } from "../watch-registry.js";
import type { WatchParts } from "../watch-routes.js";
import { peerIp } from "./bridge.js";
import { authorizeCall } from "./call-auth.js";
import type { GrpcContext } from "./context.js";
import { grpcError } from "./unary.js";
import {
  eventMessage,
  fragmentRuns,
  parseCreate,
  parseWatchId,
  RESPONSE_OVERHEAD_BYTES,
  runBytes,
  type WatchCreate,
  type WatchRequestMessage,
  type WatchResponseMessage,
} from "./watch-messages.js";
import { WatchOutbox } from "./watch-outbox.js";

/** What every Watch call of one member shares. */
export interface WatchCallDeps {
  readonly ctx: GrpcContext;
  readonly parts: WatchParts;
  /** The member's full response header at a revision. */
  readonly header: (revision: number) => WatchResponseMessage["header"];
  /** The largest message the gRPC server sends. */
  readonly maxMessageBytes: number;
}

/** One watch of a call; the registry counts it against the watcher limits. */
class CallWatch implements ClosableStream {
  cancelWatcher: (() => void) | undefined;
  /** Cancelled (by the client, a failure, or the call's end): hears nothing more. */
  dropped = false;
  /** No events since the last progress tick: the next tick reports progress. */
  quiet = true;

  constructor(
    readonly id: number,
    readonly create: WatchCreate,
    private readonly call: GrpcWatchCall,
  ) {}

  /** The registry ends watches only when the server closes: the whole call goes, clients resume elsewhere. */
  close(_code: string, message: string): void {
    this.call.end(GrpcCode.UNAVAILABLE, `etcdserver: ${message}`);
  }
}

/** Requests read but not yet handled (each create may wait for an auth check); more is abuse. */
const MAX_PENDING_REQUESTS = 1024;

/** etcd's text for a client-chosen id already in use on the stream. */
const DUPLICATE_ID_REASON = "mvcc: duplicate watch ID provided on the WatchStream";

/**
 * One bidirectional Watch call: many watches, each a watcher on the member's
 * store, with etcd's ids (chosen by the client, or 0, 1, 2… per call).
 *
 * Requests are handled one at a time in arrival order, so answers come in
 * the order clients (npm etcd3's attach queue) expect. Responses leave
 * through a bounded outbox; a call whose reader falls too far behind is cut
 * with UNAVAILABLE, and etcd's clients then reconnect and resume each watch
 * from the last revision they received.
 */
export class GrpcWatchCall {
  private readonly watches = new Map<number, CallWatch>();
  private nextAutoId = 0;
  private ended = false;
  private readonly outbox: WatchOutbox;
  private pending: Promise<void> = Promise.resolve();
  private pendingCount = 0;
  private progressTimer: ReturnType<typeof setInterval> | undefined;
  private readonly host: string;
  /** The user of the last admitted watch, for the log line of a cut. */
  private lastUser: string | undefined;

  constructor(
    private readonly call: ServerDuplexStream<WatchRequestMessage, WatchResponseMessage>,
    private readonly deps: WatchCallDeps,
  ) {
    this.host = peerIp(call.getPeer());
    this.outbox = new WatchOutbox(call, {
      parts: deps.parts,
      client: () => this.clientKey(this.lastUser),
      onCut: (details) => this.end(GrpcCode.UNAVAILABLE, details),
    });
  }

  start(): void {
    this.call.on("data", (request: WatchRequestMessage) => this.receive(request));
    // A half-closed stream keeps its watches, as etcd's does; it ends when cancelled.
    this.call.on("cancelled", () => this.closed());
    this.call.on("close", () => this.closed());
    this.call.on("error", () => {
      // The error end() emits is how grpc-js is told the status; any other means the call broke.
      if (!this.ended) this.closed();
    });
  }

  /** Ends the call with a status after what grpc-js already holds. */
  end(code: GrpcCode, details: string): void {
    if (this.ended) return;
    this.stopWatches();
    this.outbox.stop();
    // grpc-js sends the status once its buffered messages are written.
    this.call.emit("error", Object.assign(new Error(details), { code, details }));
  }

  private receive(request: WatchRequestMessage): void {
    if (this.ended) return;
    if (++this.pendingCount > MAX_PENDING_REQUESTS) {
      this.end(
        GrpcCode.RESOURCE_EXHAUSTED,
        `etcdserver: more than ${MAX_PENDING_REQUESTS} watch requests are waiting on this stream`,
      );
      return;
    }
    this.pending = this.pending
      .then(() => this.handle(request))
      .catch((error: unknown) => {
        this.deps.ctx.log.error({ err: error }, "watch request failed");
        this.end(GrpcCode.INTERNAL, "etcdserver: internal error");
      })
      .finally(() => {
        this.pendingCount--;
      });
  }

  private async handle(request: WatchRequestMessage): Promise<void> {
    if (this.ended) return;
    if (request.create_request !== undefined) await this.create(request.create_request);
    else if (request.cancel_request !== undefined) this.cancel(request.cancel_request.watch_id);
    else if (request.progress_request !== undefined) {
      // etcd's answer to a progress request: the stream's revision, for no watch in particular.
      this.send({ header: this.header(), watch_id: -1 });
    }
  }

  private async create(request: Parameters<typeof parseCreate>[0]): Promise<void> {
    const { ctx, parts } = this.deps;
    let create: WatchCreate;
    try {
      create = parseCreate(request, ctx.limits);
    } catch (error) {
      this.refuse(-1, grpcError(error).details);
      return;
    }
    const { options } = create;
    let user: string | undefined;
    try {
      user = await authorizeCall(ctx.kv, this.call.metadata, [
        {
          mode: "read",
          key: options.key,
          ...(options.rangeEnd !== undefined && { rangeEnd: options.rangeEnd }),
        },
      ]);
    } catch (error) {
      const reason =
        error instanceof PermissionDeniedError
          ? "etcdserver: permission denied"
          : grpcError(error).details;
      this.refuse(create.watchId, reason);
      return;
    }
    if (this.ended) return;
    const client = this.clientKey(user);
    try {
      parts.registry.checkAdmission(client);
    } catch (error) {
      this.refuse(-1, grpcError(error).details);
      return;
    }
    const id = create.watchId === 0 ? this.autoId() : create.watchId;
    if (this.watches.has(id)) {
      this.refuse(-1, DUPLICATE_ID_REASON);
      return;
    }
    const watch = new CallWatch(id, create, this);
    parts.registry.add(watch, client);
    this.lastUser = user;
    // Listed before the store replays history into it, so a replayed revision can cancel it.
    this.watches.set(id, watch);
    this.send({ header: this.header(), watch_id: id, created: true });
    try {
      const watcher = ctx.kv.store.watch(
        options,
        (r) => this.deliver(watch, r),
        () => this.cancelWith(watch, "etcdserver: the watch failed"),
      );
      watch.cancelWatcher = () => watcher.cancel();
      if (watch.dropped) watcher.cancel();
    } catch (error) {
      this.drop(watch);
      this.send({
        header: this.header(),
        watch_id: id,
        canceled: true,
        ...(error instanceof CompactedError
          ? {
              compact_revision: error.compactRevision,
              // etcd 3.4 sets only compact_revision; the reason serves clients that read only the text.
              cancel_reason: "etcdserver: mvcc: required revision has been compacted",
            }
          : { cancel_reason: grpcError(error).details }),
      });
      return;
    }
    if (create.progressNotify) this.startProgressTicks();
  }

  /** etcd's answer to a create it refuses: created and canceled at once, with the reason. */
  private refuse(watchId: number, reason: string): void {
    this.send({
      header: this.header(),
      watch_id: watchId,
      created: true,
      canceled: true,
      cancel_reason: reason,
    });
  }

  /** etcd answers a cancel of an id it does not know with nothing. */
  private cancel(watchIdText: string | undefined): void {
    const id = parseWatchId(watchIdText);
    const watch = id === undefined ? undefined : this.watches.get(id);
    if (watch === undefined) return;
    this.drop(watch);
    this.send({ header: this.header(), watch_id: watch.id, canceled: true });
  }

  private cancelWith(watch: CallWatch, reason: string): void {
    if (watch.dropped) return;
    this.drop(watch);
    this.send({ header: this.header(), watch_id: watch.id, canceled: true, cancel_reason: reason });
  }

  private drop(watch: CallWatch): void {
    watch.dropped = true;
    watch.cancelWatcher?.();
    this.watches.delete(watch.id);
    this.deps.parts.registry.remove(watch);
  }

  private autoId(): number {
    while (this.watches.has(this.nextAutoId)) this.nextAutoId++;
    return this.nextAutoId++;
  }

  private deliver(watch: CallWatch, r: WatchResponse): void {
    if (watch.dropped || r.progressNotify) return;
    watch.quiet = false;
    const header = this.header(r.revision);
    const limit = this.deps.maxMessageBytes;
    const bytes = runBytes(r.events);
    if (bytes <= limit) {
      this.send({ header, watch_id: watch.id, events: r.events.map(eventMessage) }, bytes);
      return;
    }
    const runs = fragmentRuns(r.events, limit);
    const oversized = runs.find((run) => runBytes(run) > limit);
    if (!watch.create.fragment || oversized !== undefined) {
      this.cancelWith(
        watch,
        `etcdserver: the events of revision ${r.revision} take ${runBytes(oversized ?? r.events)} bytes, over the ${limit}-byte message limit${oversized === undefined ? "; watch with fragment to receive them in parts" : ""}`,
      );
      return;
    }
    runs.forEach((run, i) => {
      this.send(
        {
          header,
          watch_id: watch.id,
          ...(i < runs.length - 1 && { fragment: true }),
          events: run.map(eventMessage),
        },
        runBytes(run),
      );
    });
  }

  /**
   * etcd's progress notification: every interval, each watch that asked for
   * it and had no events since the last tick hears the store's revision.
   */
  private startProgressTicks(): void {
    if (this.progressTimer !== undefined) return;
    this.progressTimer = setInterval(() => {
      const revision = this.deps.ctx.kv.store.revision;
      for (const watch of this.watches.values()) {
        if (!watch.create.progressNotify) continue;
        if (watch.quiet) this.send({ header: this.header(revision), watch_id: watch.id });
        watch.quiet = true;
      }
    }, this.deps.parts.limits.watchProgressIntervalMs);
    this.progressTimer.unref();
  }

  private header(revision: number = this.deps.ctx.kv.store.revision) {
    return this.deps.header(revision);
  }

  private clientKey(user: string | undefined): string {
    return clientIdentity(user, this.host);
  }

  private send(message: WatchResponseMessage, bytes: number = RESPONSE_OVERHEAD_BYTES): void {
    this.outbox.send(message, bytes);
  }

  /** The call is gone: its watches and whatever grpc-js held are freed. */
  private closed(): void {
    this.stopWatches();
    this.outbox.close();
  }

  /** Stops every watch and timer; runs once. */
  private stopWatches(): void {
    if (this.ended) return;
    this.ended = true;
    for (const watch of [...this.watches.values()]) this.drop(watch);
    if (this.progressTimer !== undefined) clearInterval(this.progressTimer);
  }
}
