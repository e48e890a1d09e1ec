import { InvalidArgumentError } from "../errors.js";
import { HttpApiError } from "./errors.js";

export interface WatchLimits {
  readonly maxWatchers: number;
  readonly maxWatchersPerClient: number;
  readonly maxWatchBufferBytes: number;
  readonly maxTotalWatchBytes: number;
  readonly watchEndGraceMs: number;
  readonly watchKeepAliveMs: number;
  readonly watchProgressIntervalMs: number;
}

/** The watch limits of a server's options (or any subset of them), defaults filled in. */
export function resolveWatchLimits(options: Partial<WatchLimits>): WatchLimits {
  const limits: WatchLimits = {
    maxWatchers: options.maxWatchers ?? 10_000,
    maxWatchersPerClient: options.maxWatchersPerClient ?? 1000,
    maxWatchBufferBytes: options.maxWatchBufferBytes ?? 4 * 1024 * 1024,
    maxTotalWatchBytes: options.maxTotalWatchBytes ?? 64 * 1024 * 1024,
    watchEndGraceMs: options.watchEndGraceMs ?? 5000,
    watchKeepAliveMs: options.watchKeepAliveMs ?? 5000,
    watchProgressIntervalMs: options.watchProgressIntervalMs ?? 5000,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidArgumentError(
        `server option ${name} must be a positive integer, got ${value}`,
      );
    }
  }
  if (limits.maxTotalWatchBytes < limits.maxWatchBufferBytes) {
    throw new InvalidArgumentError(
      `server option maxTotalWatchBytes (${limits.maxTotalWatchBytes}) must be at least maxWatchBufferBytes (${limits.maxWatchBufferBytes})`,
    );
  }
  return limits;
}

export class TooManyWatchersError extends HttpApiError {
  constructor(message: string) {
    super(429, "TOO_MANY_WATCHERS", message);
  }
}

/** What the registry can end: an open watch stream. */
export interface ClosableStream {
  /** Ends the stream with an error event telling the client why. */
  close(code: string, message: string): void;
}

/**
 * The open watches of one server (each HTTP watch stream, each watch of a
 * gRPC Watch call): admits new ones within the limits, counts them (for
 * metrics), and ends them all when the server closes.
 */
export class WatchRegistry {
  private readonly streams = new Map<ClosableStream, string>();
  private readonly perClient = new Map<string, number>();

  constructor(private readonly limits: Pick<WatchLimits, "maxWatchers" | "maxWatchersPerClient">) {}

  /** Open watch streams right now. */
  get activeCount(): number {
    return this.streams.size;
  }

  /** Throws TooManyWatchersError when `client` (a clientIdentity key) or the server is at its limit. */
  checkAdmission(client: string): void {
    if (this.streams.size >= this.limits.maxWatchers) {
      throw new TooManyWatchersError(
        `the server has ${this.streams.size} open watches; the limit is ${this.limits.maxWatchers}`,
      );
    }
    const mine = this.perClient.get(client) ?? 0;
    if (mine >= this.limits.maxWatchersPerClient) {
      throw new TooManyWatchersError(
        `${client} has ${mine} open watches; the limit per client is ${this.limits.maxWatchersPerClient}`,
      );
    }
  }

  add(stream: ClosableStream, client: string): void {
    this.checkAdmission(client);
    this.streams.set(stream, client);
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
  }

  /** Idempotent: a stream may end more than one way at once. */
  remove(stream: ClosableStream): void {
    const client = this.streams.get(stream);
    if (client === undefined) return;
    this.streams.delete(stream);
    const left = (this.perClient.get(client) ?? 1) - 1;
    if (left > 0) this.perClient.set(client, left);
    else this.perClient.delete(client);
  }

  closeAll(code: string, message: string): void {
    for (const stream of [...this.streams.keys()]) stream.close(code, message);
  }
}
