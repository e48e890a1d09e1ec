export type { BackoffOptions } from "./backoff.js";
export { DEFAULT_BACKOFF } from "./backoff.js";
export type { HandshakeFailure } from "./errors.js";
export {
  FrameDecodeError,
  FrameTooLargeError,
  HandshakeError,
  InvalidMessageError,
  PeerProtocolError,
  SnapshotStreamError,
  TransportListenError,
  TransportStoppedError,
} from "./errors.js";
export { MAX_GROUP, validateGroup } from "./group.js";
export type { UnknownGroupHandler } from "./group-mux.js";
export { GroupMux } from "./group-mux.js";
export type { TransportLogger } from "./logger.js";
export { silentLogger } from "./logger.js";
export type { CarriedPacket, DeliveryFilter, MemoryNetworkOptions } from "./memory-network.js";
export { MemoryNetwork } from "./memory-network.js";
export { MemoryTransport } from "./memory-transport.js";
export { decodeMessage, encodeMessage } from "./message-codec.js";
export { validateMessage } from "./message-validate.js";
export type { TcpTransportOptions, TransportTlsOptions } from "./options.js";
export {
  DEFAULT_MAX_FRAME_BYTES,
  isLoopbackHost,
  MIN_SECRET_BYTES,
  parsePeerAddress,
} from "./options.js";
export { TcpTransport } from "./tcp-transport.js";
export type {
  ControlHandler,
  MessageHandler,
  PeerAddress,
  PeerStats,
  SendSnapshotOptions,
  SnapshotHandler,
  SnapshotStatusHandler,
  Transport,
  TransportStats,
  UnreachableHandler,
} from "./transport.js";
