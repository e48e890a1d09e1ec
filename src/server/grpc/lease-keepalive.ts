import { status as GrpcCode, type ServerDuplexStream, type UntypedHandleCall } from "@grpc/grpc-js";
import { GrpcCallError, type JsonObject } from "./bridge.js";
import { authorizeCall } from "./call-auth.js";
import type { GrpcContext } from "./context.js";
import { heldId } from "./held-id.js";
import { grpcError } from "./unary.js";

/**
 * Requests read ahead of the one being renewed. Past it the stream stops
 * reading, so HTTP/2 flow control holds a client that sends faster than
 * renewals complete: memory per stream stays bounded however it behaves.
 */
export const KEEPALIVE_READ_AHEAD = 16;

const SERVER_STOPPED = { code: GrpcCode.UNAVAILABLE, details: "etcdserver: server stopped" };

type KeepAliveCall = ServerDuplexStream<JsonObject, JsonObject>;

/**
 * etcd's LeaseKeepAlive: each request {ID} is answered {header, ID, TTL}, in
 * order, one renewal at a time. A renewal is the keep-alive route's, so a
 * follower forwards it to the leader like any other lease call. A lease that
 * does not exist (or expired) answers TTL 0, as etcd does, and the stream
 * goes on; any other failure ends the stream with etcd's status.
 */
export function leaseKeepAliveHandler(ctx: GrpcContext): UntypedHandleCall {
  return (call: KeepAliveCall) => new KeepAliveStream(ctx, call).start();
}

class KeepAliveStream {
  readonly #queue: unknown[] = [];
  #renewing = false;
  #paused = false;
  #clientEnded = false;
  /** Set once the stream was ended, failed or cancelled: nothing more is written. */
  #closed = false;

  constructor(
    private readonly ctx: GrpcContext,
    private readonly call: KeepAliveCall,
  ) {}

  start(): void {
    const call = this.call;
    call.on("data", (message: JsonObject | null) => {
      if (this.#closed) return;
      this.#queue.push(message?.["ID"]);
      if (this.#queue.length >= KEEPALIVE_READ_AHEAD && !this.#paused) {
        this.#paused = true;
        call.pause();
      }
      void this.#renew();
    });
    call.on("end", () => {
      this.#clientEnded = true;
      void this.#renew();
    });
    call.on("cancelled", () => this.#close());
    // The server is closing: the client hears why and renews through another member.
    const stop = () => this.#fail(new GrpcCallError(SERVER_STOPPED, "NODE_STOPPED"));
    if (this.ctx.closing.aborted) stop();
    else {
      this.ctx.closing.addEventListener("abort", stop, { once: true });
      call.on("close", () => this.ctx.closing.removeEventListener("abort", stop));
    }
    // A broken transport: grpc-js has already given up on the call.
    call.on("error", () => this.#close());
  }

  /** Renews queued leases one after another until the queue is empty. */
  async #renew(): Promise<void> {
    if (this.#renewing) return;
    this.#renewing = true;
    try {
      while (!this.#closed && this.#queue.length > 0) {
        const requested = this.#queue.shift();
        if (this.#paused && this.#queue.length < KEEPALIVE_READ_AHEAD / 2) {
          this.#paused = false;
          this.call.resume();
        }
        const reply = await this.#renewOne(requested);
        if (this.#closed) return;
        if (!this.call.write(reply)) await this.#drained();
      }
      if (this.#clientEnded && !this.#closed) {
        this.#closed = true;
        this.call.end();
      }
    } catch (err) {
      this.#fail(err);
    } finally {
      this.#renewing = false;
    }
  }

  async #renewOne(requested: unknown): Promise<JsonObject> {
    const id = heldId(requested);
    if (id === undefined) await authorizeCall(this.ctx.kv, this.call.metadata, "authenticated");
    else {
      try {
        const answer = await this.ctx.bridge.post("/v3/lease/keepalive", { ID: id }, this.call);
        // The route nests its answer under `result`, whose header has the revision only.
        const result = answer["result"] as JsonObject;
        const revision = Number((result["header"] as JsonObject | undefined)?.["revision"] ?? 0);
        return { ...result, header: this.ctx.app.responseHeader(revision) };
      } catch (err) {
        if (!(err instanceof GrpcCallError && err.conclaveCode === "KV_LEASE_NOT_FOUND")) throw err;
      }
    }
    return {
      header: this.ctx.app.responseHeader(this.ctx.kv.store.revision),
      ID: String(requested ?? "0"),
      TTL: "0",
    };
  }

  /** Waits until the client reads what was written, or the call goes away. */
  #drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.call.off("drain", done);
        this.call.off("cancelled", done);
        this.call.off("close", done);
        resolve();
      };
      this.call.on("drain", done);
      this.call.on("cancelled", done);
      this.call.on("close", done);
    });
  }

  #fail(err: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    const status = grpcError(err);
    this.ctx.log.debug({ code: status.code, details: status.details }, "lease keep-alive ended");
    this.call.emit("error", status);
  }

  #close(): void {
    this.#closed = true;
    this.#queue.length = 0;
  }
}
