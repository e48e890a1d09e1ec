import { ClientError } from "./errors.js";

/** Normalizes `http://host:port/` to `http://host:port`, refusing anything but http(s) URLs. */
export function normalizeEndpoint(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ClientError("INVALID_ARGUMENT", `endpoint ${JSON.stringify(raw)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ClientError("INVALID_ARGUMENT", `endpoint ${raw} must be an http or https URL`);
  }
  return raw.replace(/\/+$/, "");
}

/**
 * The configured endpoints and which one to try first: the last one that
 * accepted a write (most likely the leader), or the first configured one.
 */
export class EndpointPool {
  readonly endpoints: readonly string[];
  private preferred: string;

  constructor(endpoints: readonly string[]) {
    if (endpoints.length === 0) {
      throw new ClientError("INVALID_ARGUMENT", "the client needs at least one endpoint");
    }
    this.endpoints = [...new Set(endpoints.map(normalizeEndpoint))];
    this.preferred = this.endpoints[0]!;
  }

  get first(): string {
    return this.preferred;
  }

  /** Remembers an endpoint that accepted a write; it is tried first from now on. */
  markLeader(endpoint: string): void {
    this.preferred = endpoint;
  }

  /**
   * The endpoint after `current` in the configured order. A discovered
   * endpoint (a `leaderUrl` not in the list) is followed by the list's start.
   */
  after(current: string): string {
    const i = this.endpoints.indexOf(current);
    return this.endpoints[(i + 1) % this.endpoints.length]!;
  }

  /**
   * `url` as one of the configured endpoints, or undefined: a hint on a
   * successful answer moves the client only among the endpoints it was given.
   */
  known(url: string): string | undefined {
    const normalized = this.leaderHint(url);
    return normalized !== undefined && this.endpoints.includes(normalized) ? normalized : undefined;
  }

  /** Follows a NOT_LEADER hint; an unusable hint is ignored. */
  leaderHint(leaderUrl: string | undefined): string | undefined {
    if (leaderUrl === undefined) return undefined;
    try {
      return normalizeEndpoint(leaderUrl);
    } catch {
      return undefined;
    }
  }
}
