import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { createSecureContext, type SecureContext } from "node:tls";
import type { TransportTlsOptions } from "./options.js";

/** RFC 5705 exporter label binding the handshake proofs to one TLS session. */
const EXPORTER_LABEL = "EXPORTER-conclave-raft-handshake";
const EXPORTER_BYTES = 32;
const NO_BINDING = new Uint8Array(0);

export function secureContextFor(tls: TransportTlsOptions): SecureContext {
  return createSecureContext({
    cert: tls.cert,
    key: tls.key,
    ca: Array.isArray(tls.ca) ? [...tls.ca] : (tls.ca as string | Buffer),
    minVersion: "TLSv1.2",
  });
}

/**
 * A value both ends of one TLS session derive and nobody else can: the
 * handshake proofs cover it, so they cannot be relayed into another session.
 * Plain TCP has none.
 */
export function channelBinding(socket: Socket): Uint8Array {
  const maybeTls = socket as Partial<TLSSocket>;
  if (typeof maybeTls.exportKeyingMaterial !== "function" || maybeTls.encrypted !== true) {
    return NO_BINDING;
  }
  return maybeTls.exportKeyingMaterial(EXPORTER_BYTES, EXPORTER_LABEL, Buffer.alloc(0));
}
