import { randomBytes, timingSafeEqual } from "node:crypto";
import { AuthError } from "../auth/index.js";

/**
 * The TLS client certificate a request was made with, when the request did
 * not come over a socket of this server: the gRPC API verifies certificates
 * on its own listener and answers through the HTTP routes in process
 * (grpc/bridge.ts). It names the certificate's CN in a header that carries
 * a secret made when the server starts and never sent anywhere, so a client
 * that sends the header over the network proves nothing.
 */
export const IN_PROCESS_CN_HEADER = "conclave-in-process-certificate-cn";

/** A certificate header without this process's secret: someone tried to claim a certificate. */
export class InProcessIdentityError extends AuthError {
  constructor() {
    super(401, "INVALID_CERTIFICATE_CLAIM", `header ${IN_PROCESS_CN_HEADER} is not accepted`);
  }
}

export class InProcessIdentity {
  readonly #secret = randomBytes(32);

  /** The header value naming `cn` as the verified certificate's CN. */
  headerFor(cn: string): string {
    return `${this.#secret.toString("base64url")} ${encodeURIComponent(cn)}`;
  }

  /**
   * The CN a request's header names, when it carries this process's secret;
   * undefined without the header. Throws InProcessIdentityError otherwise.
   */
  certificateCn(headers: Readonly<Record<string, string | string[] | undefined>>) {
    const value = headers[IN_PROCESS_CN_HEADER];
    if (value === undefined) return undefined;
    if (typeof value !== "string") throw new InProcessIdentityError();
    const space = value.indexOf(" ");
    const secret = Buffer.from(space === -1 ? "" : value.slice(0, space), "base64url");
    if (secret.length !== this.#secret.length || !timingSafeEqual(secret, this.#secret)) {
      throw new InProcessIdentityError();
    }
    try {
      return decodeURIComponent(value.slice(space + 1));
    } catch {
      throw new InProcessIdentityError();
    }
  }
}
