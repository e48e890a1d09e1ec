import type { Socket } from "node:net";
import { ConclaveError } from "../../errors.js";
import { HandshakeError, PeerProtocolError } from "./errors.js";
import type { Frame } from "./frame.js";
import { encodeFrame, encodeFrameHeader, FrameDecoder, type FrameKind } from "./frame.js";
import type { TransportLogger } from "./logger.js";

/** Frames that may wait unread while the owner is between `receive()` calls. */
const MAX_INBOX_FRAMES = 4;
/** How long a closing connection may take to flush its last frame. */
const FLUSH_GRACE_MS = 500;

/**
 * A socket that speaks frames. Until the owner installs a frame handler,
 * frames are read one at a time with `receive()` (the handshake and the
 * snapshot acknowledgement read this way); afterwards each frame goes
 * straight to the handler. Any decode error, protocol error or socket error
 * closes the connection and logs why; the owner learns of it through
 * `closed`.
 */
export class FramedConnection {
  readonly decoder: FrameDecoder;
  /** Log close reasons at debug: set while the owner reports failures itself. */
  quiet = false;
  /** Settles when the socket is gone; resolves with the reason it was closed for, if any. */
  readonly closed: Promise<Error | undefined>;
  private handler: ((frame: Frame) => void) | undefined;
  private readonly inbox: Frame[] = [];
  private waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void } | undefined;
  private closeReason: Error | undefined;
  private isClosed = false;
  private resolveClosed!: (reason: Error | undefined) => void;

  constructor(
    readonly socket: Socket,
    maxFrameBytes: number,
    private readonly logger: TransportLogger,
    /** Identifies the connection in every log line (peer id, direction, purpose). */
    readonly logFields: Record<string, unknown>,
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes);
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err) => this.close(err));
    socket.on("close", () => this.finish());
    socket.on("end", () => {
      // The peer half-closed; we never keep a half-open connection. Ending inside a
      // frame is the peer's fault and gets logged as such.
      const partial = this.decoder.bufferedBytes;
      if (partial > 0) {
        this.close(
          new PeerProtocolError(`peer closed the connection inside a frame (${partial} bytes)`),
        );
      } else {
        this.close(undefined);
      }
    });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  private onData(chunk: Buffer): void {
    if (this.isClosed) return;
    try {
      this.decoder.push(chunk, (frame) => {
        if (this.isClosed) return;
        this.dispatch(frame);
      });
    } catch (err) {
      this.close(asError(err));
    }
  }

  private dispatch(frame: Frame): void {
    if (this.handler !== undefined) {
      this.handler(frame);
      return;
    }
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(frame);
      return;
    }
    if (this.inbox.length >= MAX_INBOX_FRAMES) {
      throw new PeerProtocolError(`peer sent more than ${MAX_INBOX_FRAMES} frames out of turn`);
    }
    this.inbox.push(frame);
  }

  /** The next frame; rejects with the close reason if the connection closes first. */
  receive(): Promise<Frame> {
    const queued = this.inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.isClosed) return Promise.reject(this.closeError());
    if (this.waiter !== undefined) throw new Error("FramedConnection.receive: already waiting");
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** From now on every frame goes to `handler`; frames already queued are handed over first. */
  setFrameHandler(handler: (frame: Frame) => void): void {
    this.handler = handler;
    while (this.inbox.length > 0 && !this.isClosed) {
      const frame = this.inbox.shift() as Frame;
      try {
        handler(frame);
      } catch (err) {
        this.close(asError(err));
      }
    }
  }

  /** Writes one frame; false means the socket buffer is full (see `drained`). */
  writeFrame(kind: FrameKind, body: Uint8Array): boolean {
    if (this.isClosed) return false;
    return this.socket.write(encodeFrame(kind, body));
  }

  /** Writes already-encoded frame bytes. */
  writeRaw(bytes: Uint8Array): boolean {
    if (this.isClosed) return false;
    return this.socket.write(bytes);
  }

  /** Writes a frame whose body is passed through without being copied. */
  writeFrameParts(kind: FrameKind, body: Uint8Array): boolean {
    if (this.isClosed) return false;
    this.socket.write(encodeFrameHeader(kind, body.byteLength));
    return this.socket.write(body);
  }

  /** Resolves when the socket buffer has drained, or when the connection closes. */
  drained(): Promise<void> {
    if (this.isClosed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.isClosed) this.socket.resume();
  }

  /**
   * Closes the connection now. A reason is logged (at warn when it is the
   * peer's fault, at debug for an orderly close); the first reason wins.
   * With `flush`, bytes already written (a Reject frame) get a short grace
   * period to leave before the socket is destroyed.
   */
  close(reason: Error | undefined, orderly = false, flush = false): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeReason = reason;
    if (reason !== undefined) {
      const fields = {
        ...this.logFields,
        reason: reason.message,
        code:
          reason instanceof ConclaveError ? reason.code : (reason as NodeJS.ErrnoException).code,
        ...(reason instanceof HandshakeError && { failure: reason.failure }),
      };
      if (orderly || this.quiet) this.logger.debug(fields, "closing peer connection");
      else this.logger.warn(fields, "closing peer connection");
    }
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.closeError());
    if (flush && !this.socket.destroyed) {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), FLUSH_GRACE_MS).unref();
      return;
    }
    this.socket.destroy();
    // 'close' normally follows destroy(); finish() is idempotent in case it already fired.
    if (this.socket.destroyed && this.socket.closed) this.finish();
  }

  private finish(): void {
    if (!this.isClosed) {
      this.isClosed = true;
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(this.closeError());
    }
    this.resolveClosed(this.closeReason);
  }

  private closeError(): Error {
    return this.closeReason ?? new PeerProtocolError("connection closed by the peer");
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
