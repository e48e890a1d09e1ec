import dgram from "node:dgram";
import net, { isIPv6 } from "node:net";
import { InvalidArgumentError } from "../../errors.js";
import type { AnswerContext } from "./answer.js";
import { DEFAULT_DNS_DOMAIN, normalizeDomain } from "./names.js";
import { answerDnsMessage, type DnsTransportKind } from "./responder.js";
import type { ServiceSource } from "./service-source.js";

export interface DnsServerOptions {
  /** Default 127.0.0.1. DNS has no authentication: anyone who reaches it learns the served addresses. */
  readonly host?: string;
  /** UDP and TCP both listen on it; 0 picks a free one. */
  readonly port: number;
  readonly source: ServiceSource;
  /** Default "conclave.". */
  readonly domain?: string;
  /** TTL of every record, and of cached absence. Default 0: clients ask again each time, as Consul's default. */
  readonly ttlSeconds?: number;
  /** Open TCP connections; more are closed on accept. Default 256. */
  readonly maxTcpConnections?: number;
  /** A TCP connection silent this long is closed. Default 10000. */
  readonly tcpIdleTimeoutMs?: number;
  /** Queries being answered at once; UDP queries past it are dropped (clients retry). Default 1024. */
  readonly maxPendingQueries?: number;
  /** Orders the records of an answer. Default Math.random. */
  readonly random?: () => number;
  /** A lookup that failed (answered SERVFAIL), or a socket error. */
  readonly onError?: (error: unknown) => void;
}

const DEFAULT_MAX_TCP_CONNECTIONS = 256;
const DEFAULT_TCP_IDLE_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_PENDING_QUERIES = 1024;
const MAX_TTL_SECONDS = 2_147_483_647; // RFC 2181 8
/** A length prefix and the largest message it can announce. */
const MAX_TCP_FRAME_BYTES = 2 + 65_535;
/** One frame being assembled and one read past it; a connection that sends more is cut. */
const MAX_TCP_BUFFER_BYTES = 2 * MAX_TCP_FRAME_BYTES;
const MIN_QUERY_BYTES = 12;
/** Tries at one port shared by UDP and TCP when the caller asked for any free port. */
const PORT_TRIES = 8;

interface ServerLimits {
  readonly tcpIdleTimeoutMs: number;
  readonly maxPendingQueries: number;
  readonly onError: ((error: unknown) => void) | undefined;
}

/**
 * The registry's DNS view on UDP and TCP at one port: A/AAAA and SRV records
 * of served instances (see answer.ts for the names). Authoritative for its
 * domain only: no recursion, other zones REFUSED.
 */
export class DnsServer implements AsyncDisposable {
  readonly host: string;
  readonly port: number;
  readonly #udp: dgram.Socket;
  readonly #tcp: net.Server;
  readonly #connections = new Set<net.Socket>();
  readonly #context: AnswerContext;
  readonly #options: ServerLimits;
  #pending = 0;
  #closing: Promise<void> | undefined;

  private constructor(
    host: string,
    sockets: { udp: dgram.Socket; tcp: net.Server },
    context: AnswerContext,
    options: ServerLimits,
  ) {
    this.host = host;
    this.#udp = sockets.udp;
    this.#tcp = sockets.tcp;
    this.port = this.#udp.address().port;
    this.#context = context;
    this.#options = options;
    this.#udp.on("message", (message, peer) => this.#onDatagram(message, peer));
    this.#udp.on("error", (error) => options.onError?.(error));
    this.#tcp.on("connection", (socket) => this.#onConnection(socket));
    this.#tcp.on("error", (error) => options.onError?.(error));
  }

  static async listen(options: DnsServerOptions): Promise<DnsServer> {
    const host = options.host ?? "127.0.0.1";
    const port = options.port;
    if (!Number.isInteger(port) || port < 0 || port > 65_535) {
      throw new InvalidArgumentError(`DNS port must be an integer in [0, 65535], got ${port}`);
    }
    const ttlSeconds = options.ttlSeconds ?? 0;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > MAX_TTL_SECONDS) {
      throw new InvalidArgumentError(
        `DNS TTL must be an integer number of seconds in [0, ${MAX_TTL_SECONDS}], got ${ttlSeconds}`,
      );
    }
    const maxTcpConnections = positive(
      options.maxTcpConnections,
      DEFAULT_MAX_TCP_CONNECTIONS,
      "maxTcpConnections",
    );
    const context: AnswerContext = {
      domain: normalizeDomain(options.domain ?? DEFAULT_DNS_DOMAIN),
      ttlSeconds,
      source: options.source,
      random: options.random ?? Math.random,
    };
    const sockets = await bindBoth(host, port);
    sockets.tcp.maxConnections = maxTcpConnections;
    return new DnsServer(host, sockets, context, {
      tcpIdleTimeoutMs: positive(
        options.tcpIdleTimeoutMs,
        DEFAULT_TCP_IDLE_TIMEOUT_MS,
        "tcpIdleTimeoutMs",
      ),
      maxPendingQueries: positive(
        options.maxPendingQueries,
        DEFAULT_MAX_PENDING_QUERIES,
        "maxPendingQueries",
      ),
      onError: options.onError,
    });
  }

  /** TCP connections open now. */
  get tcpConnections(): number {
    return this.#connections.size;
  }

  /** The domain answered, with its trailing dot. */
  get domain(): string {
    return `${this.#context.domain}.`;
  }

  #answer(message: Buffer, transport: DnsTransportKind): Promise<Buffer | undefined> {
    return answerDnsMessage(message, transport, this.#context, {
      onLookupError: (error) => this.#options.onError?.(error),
    });
  }

  #onDatagram(message: Buffer, peer: dgram.RemoteInfo): void {
    if (this.#closing !== undefined || this.#pending >= this.#options.maxPendingQueries) return;
    this.#pending++;
    void this.#answer(message, "udp")
      .then((reply) => {
        if (reply === undefined || this.#closing !== undefined) return;
        this.#udp.send(reply, peer.port, peer.address, (error) => {
          if (error) this.#options.onError?.(error);
        });
      })
      .finally(() => {
        this.#pending--;
      });
  }

  /**
   * Messages on a TCP connection are answered one at a time, in order; the
   * socket is paused meanwhile, so a connection holds at most one frame
   * being assembled and one chunk past it.
   */
  #onConnection(socket: net.Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    this.#connections.add(socket);
    socket.once("close", () => this.#connections.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.setTimeout(this.#options.tcpIdleTimeoutMs, () => socket.destroy());
    let buffered: Buffer = Buffer.alloc(0);
    let busy = false;
    const drain = async (): Promise<void> => {
      busy = true;
      socket.pause();
      try {
        while (buffered.length >= 2 && !socket.destroyed) {
          const length = buffered.readUInt16BE(0);
          if (length < MIN_QUERY_BYTES) {
            socket.destroy();
            return;
          }
          if (buffered.length < 2 + length) break;
          const message = buffered.subarray(2, 2 + length);
          buffered = buffered.subarray(2 + length);
          if (this.#pending >= this.#options.maxPendingQueries) {
            socket.destroy();
            return;
          }
          this.#pending++;
          let reply: Buffer | undefined;
          try {
            reply = await this.#answer(message, "tcp");
          } finally {
            this.#pending--;
          }
          if (reply === undefined) continue;
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length);
          // A client that does not read its answers gets no more until it does (or idles out).
          if (!socket.write(Buffer.concat([prefix, reply]))) await drained(socket);
        }
      } finally {
        busy = false;
        if (!socket.destroyed) socket.resume();
      }
    };
    socket.on("data", (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered.length > MAX_TCP_BUFFER_BYTES) {
        socket.destroy();
        return;
      }
      if (!busy) void drain();
    });
  }

  /** Stops both listeners and closes open TCP connections; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const tcpClosed = new Promise<void>((resolve) => this.#tcp.close(() => resolve()));
      for (const socket of this.#connections) socket.destroy();
      await new Promise<void>((resolve) => this.#udp.close(() => resolve()));
      await tcpClosed;
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`DNS server option ${name} must be a positive integer`);
  }
  return value;
}

/** UDP and TCP on one port; with port 0, the port UDP was given, tried again if TCP finds it taken. */
async function bindBoth(
  host: string,
  port: number,
): Promise<{ udp: dgram.Socket; tcp: net.Server }> {
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket({ type: isIPv6(host) ? "udp6" : "udp4" });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind({ address: host, port }, () => {
          udp.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      udp.close();
      throw error;
    }
    const tcp = net.createServer({ pauseOnConnect: false });
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen({ host, port: udp.address().port }, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
      return { udp, tcp };
    } catch (error) {
      udp.close();
      const taken = (error as NodeJS.ErrnoException).code === "EADDRINUSE";
      if (port !== 0 || !taken || attempt >= PORT_TRIES) throw error;
    }
  }
}
