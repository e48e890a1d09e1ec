import { type ClientOptions, ConclaveClient } from "../../client/index.js";
import { InvalidArgumentError } from "../../errors.js";
import type { Clock } from "../clock.js";
import { DEFAULT_KEY_PREFIX, KeyspaceLockBackend } from "../keyspace/backend.js";
import { validateKeyPrefix } from "../keyspace/keys.js";
import { type BackendGuarantees, LEASE_KINDS } from "../types.js";
import { positiveInteger } from "../validate.js";
import type { ConclaveKeyspaceClient } from "./client-port.js";
import { ConclaveKeyspace } from "./keyspace.js";

/** How the backend's own client connects: TLS, and a user's password or a token. */
export type ConclaveClientSecurity = Pick<ClientOptions, "tls" | "username" | "password" | "token">;

const SECURITY_OPTIONS = ["tls", "username", "password", "token"] as const;

/** Where the backend's client comes from: handed in, or built from endpoints. */
export type ConclaveConnection =
  /** A client to use (already set up with its credentials); not closed by the backend. */
  | ({ readonly client: ConclaveKeyspaceClient; readonly endpoints?: undefined } & {
      readonly [K in keyof ConclaveClientSecurity]?: undefined;
    })
  /**
   * Base URLs of the cluster's members (`http://127.0.0.1:7379`, or https with
   * `tls`), and who to connect as; the backend owns the client.
   */
  | ({
      readonly endpoints: readonly string[];
      readonly client?: undefined;
    } & ConclaveClientSecurity);

export type ConclaveLockBackendOptions = ConclaveConnection & {
  /** Prefix of every key. Default "conclave/lock". */
  readonly keyPrefix?: string;
  /**
   * A request without a reply after this long (retries to other members
   * included) fails with BackendUnavailableError. Default 2000.
   */
  readonly operationTimeoutMs?: number;
  /**
   * Longest time a waiter or leader observer trusts its watch without
   * reading the queue again (insurance against a watch lost silently). Default 5000.
   */
  readonly recheckIntervalMs?: number;
  readonly clock?: Clock;
};

export const CONCLAVE_GUARANTEES: BackendGuarantees = {
  backend: "conclave",
  fencing: "strict",
  fair: true,
  reentrant: false,
  kinds: LEASE_KINDS,
  onHolderCrash: "expires-after-ttl",
  partition:
    "a holder cut off from the cluster's quorum cannot keep its lease alive (every keep-alive goes through the Raft log); its signal fires a safety margin before the lease could end, and the leader revokes the lease, deleting its key and waking the next waiter, once the TTL (ttlMs rounded up to whole seconds) passes without a keep-alive — after a leader change, a TTL plus an election timeout; a minority partition of servers cannot grant, renew or release anything",
};

/**
 * Locks on a Conclave cluster: the key-queue recipe shared with the etcd
 * backend ({@link KeyspaceLockBackend}) over ConclaveClient. Each
 * acquisition grants its own lease and puts one key,
 * `<prefix>/<namespace>/<name>/<kind>/<owner>`, attached to it; the smallest
 * create_revision holds, each waiter watches the deletion of the key ahead
 * of it, and the fencing token is the key's create_revision, which the
 * replicated key space never hands out twice.
 */
export class ConclaveLockBackend extends KeyspaceLockBackend {
  constructor(options: ConclaveLockBackendOptions) {
    const timeoutMs = positiveInteger(options?.operationTimeoutMs ?? 2000, "operationTimeoutMs");
    // Checked before a client exists, so bad options leave nothing open.
    validateKeyPrefix(options.keyPrefix ?? DEFAULT_KEY_PREFIX);
    positiveInteger(options.recheckIntervalMs ?? 5000, "recheckIntervalMs");
    const connection = validateConnection(options);
    const owned = connection.client === undefined;
    // The SDK checks the TLS and credential options, before anything is opened.
    const client =
      connection.client ??
      new ConclaveClient({
        endpoints: connection.endpoints,
        timeoutMs,
        tls: connection.tls,
        username: connection.username,
        password: connection.password,
        token: connection.token,
      });
    super(new ConclaveKeyspace(client, timeoutMs, owned), {
      guarantees: CONCLAVE_GUARANTEES,
      keyPrefix: options.keyPrefix,
      recheckIntervalMs: options.recheckIntervalMs,
      clock: options.clock,
    });
  }
}

function validateConnection(options: ConclaveLockBackendOptions): ConclaveConnection {
  const { client, endpoints } = (options ?? {}) as { client?: unknown; endpoints?: unknown };
  if (client !== undefined && endpoints !== undefined) {
    throw new InvalidArgumentError("pass either client or endpoints, not both");
  }
  if (client !== undefined) {
    const given = SECURITY_OPTIONS.filter((name) => options[name] !== undefined);
    if (given.length > 0) {
      throw new InvalidArgumentError(
        `${given.join(", ")} go with endpoints; a client passed in brings its own`,
      );
    }
    if (typeof client !== "object" || client === null) {
      throw new InvalidArgumentError("client must be a ConclaveClient");
    }
    return { client: client as ConclaveKeyspaceClient };
  }
  if (
    !Array.isArray(endpoints) ||
    endpoints.length === 0 ||
    !endpoints.every((e) => typeof e === "string" && /^https?:\/\/[^\s]+$/.test(e))
  ) {
    throw new InvalidArgumentError(
      'endpoints must be a non-empty list of base URLs like "http://127.0.0.1:7379" (or pass client)',
    );
  }
  const { tls, username, password, token } = options;
  return { endpoints: endpoints as string[], tls, username, password, token };
}
