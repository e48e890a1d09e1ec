import type { Server, Socket } from "node:net";
import { LogThrottle, type WarnSink } from "../log-throttle.js";
import { clientIdentity } from "./client-identity.js";

export interface ConnectionLimits {
  /** Open client connections in total; more are closed at accept. */
  readonly maxConnections: number;
  /** Open client connections per client identity (its host, loopback as one). */
  readonly maxConnectionsPerHost: number;
}

/** Which cap refused a client connection; a metric label, so a fixed set. */
export type ConnectionRefusal = "member_cap" | "host_cap";

/** Told of each refusal (for metrics); must be cheap, it runs on the accept path. */
export type ConnectionRefusedListener = (reason: ConnectionRefusal) => void;

/**
 * Caps open client connections so a flood cannot take the file descriptors
 * the WAL, snapshots and peers need, nor one host take every slot.
 *
 * The total is `net.Server#maxConnections`, which closes the handle inside
 * accept before any socket object exists. The per-host cap is checked on
 * `connection`, before a byte is read; an identity at its cap gets the new
 * socket destroyed at once. Both refusals are logged at most once per
 * interval, because an attacker decides how often they happen.
 */
export class ClientConnectionGate {
  readonly #limits: ConnectionLimits;
  readonly #warnings: LogThrottle;
  readonly #openByHost = new Map<string, number>();
  readonly #onRefused: ConnectionRefusedListener;
  #open = 0;

  constructor(
    limits: ConnectionLimits,
    log: WarnSink,
    onRefused: ConnectionRefusedListener = () => {},
  ) {
    this.#limits = limits;
    this.#warnings = new LogThrottle(log);
    this.#onRefused = onRefused;
  }

  /** Client connections admitted and not yet closed. */
  get openConnections(): number {
    return this.#open;
  }

  attach(server: Server): void {
    server.maxConnections = this.#limits.maxConnections;
    server.on("drop", (info?: { remoteAddress?: string }) => {
      this.#onRefused("member_cap");
      this.#warnings.warn(
        "client-connections-total",
        { remoteAddress: info?.remoteAddress, maxConnections: this.#limits.maxConnections },
        "client connection refused: the member is at its connection limit",
      );
    });
    // Before the http server's own listener, so a refused socket is never parsed.
    server.prependListener("connection", (socket: Socket) => this.#admit(socket));
  }

  #admit(socket: Socket): void {
    const host = clientIdentity(undefined, socket.remoteAddress);
    const open = this.#openByHost.get(host) ?? 0;
    if (open >= this.#limits.maxConnectionsPerHost) {
      socket.destroy();
      this.#onRefused("host_cap");
      this.#warnings.warn(
        "client-connections-per-host",
        { client: host, maxConnectionsPerHost: this.#limits.maxConnectionsPerHost },
        "client connection refused: this client is at its connection limit",
      );
      return;
    }
    this.#openByHost.set(host, open + 1);
    this.#open++;
    socket.once("close", () => {
      this.#open--;
      const left = (this.#openByHost.get(host) ?? 1) - 1;
      if (left <= 0) this.#openByHost.delete(host);
      else this.#openByHost.set(host, left);
    });
  }
}
