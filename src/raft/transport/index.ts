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
export type { TransportLogger } from "./logger.js";
export { silentLogger } from "./logger.js";
export type { DeliveryFilter, MemoryNetworkOptions } from "./memory-network.js";
export { MemoryNetwork } from "./memory-network.js";
export { MemoryTransport } from "./memory-transport.js";
export { decodeMessage, encodeMessage } from "./message-codec.js";
export { validateMessage } from "./message-validate.js";
export type { TcpTransportOptions, TransportTlsOptions } from "./options.js";
export { isLoopbackHost, MIN_SECRET_BYTES, parsePeerAddress } from "./options.js";
export { TcpTransport } from "./tcp-transport.js";
export type {
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
