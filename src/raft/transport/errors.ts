import { ConclaveError } from "../../errors.js";

/** A frame announced more bytes than the connection allows. */
export class FrameTooLargeError extends ConclaveError {
  readonly frameBytes: number;
  readonly maxFrameBytes: number;
  constructor(frameBytes: number, maxFrameBytes: number) {
    super("FRAME_TOO_LARGE", `frame of ${frameBytes} bytes exceeds the limit of ${maxFrameBytes}`);
    this.frameBytes = frameBytes;
    this.maxFrameBytes = maxFrameBytes;
  }
}

/** Bytes that do not form a frame or a payload this protocol understands. */
export class FrameDecodeError extends ConclaveError {
  constructor(message: string, options?: ErrorOptions) {
    super("FRAME_DECODE", message, options);
  }
}

/** A decodable payload whose shape is not a valid Raft message. `path` names the bad field. */
export class InvalidMessageError extends ConclaveError {
  readonly path: string;
  constructor(path: string, problem: string) {
    super("INVALID_MESSAGE", `invalid raft message: ${path} ${problem}`);
    this.path = path;
  }
}

/** Why a handshake failed; stable so logs and tests can tell the cases apart. */
export type HandshakeFailure =
  | "protocol"
  | "version"
  | "cluster-mismatch"
  | "node-mismatch"
  | "unknown-peer"
  | "bad-proof"
  | "timeout"
  | "rejected";

/** The peer could not be authenticated, or refused to authenticate us. */
export class HandshakeError extends ConclaveError {
  readonly failure: HandshakeFailure;
  constructor(failure: HandshakeFailure, detail: string) {
    super("HANDSHAKE_FAILED", `handshake failed (${failure}): ${detail}`);
    this.failure = failure;
  }
}

/** A streamed snapshot broke off, was truncated or did not match its digest. */
export class SnapshotStreamError extends ConclaveError {
  constructor(message: string, options?: ErrorOptions) {
    super("SNAPSHOT_STREAM", `snapshot stream: ${message}`, options);
  }
}

/** The peer violated the connection protocol (wrong frame for the state, wrong sender, ...). */
export class PeerProtocolError extends ConclaveError {
  constructor(message: string) {
    super("PEER_PROTOCOL", message);
  }
}

/** The transport was stopped (or never started) while the operation needed it. */
export class TransportStoppedError extends ConclaveError {
  constructor(what: string) {
    super("TRANSPORT_STOPPED", `${what}: the transport is not running`);
  }
}

/** The listener could not be opened (address in use, permission, ...). */
export class TransportListenError extends ConclaveError {
  constructor(host: string, port: number, options?: ErrorOptions) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : "";
    super("LISTEN_FAILED", `cannot listen on ${host}:${port}${cause}`, options);
  }
}
