import type { IOptions } from "etcd3";
import { InvalidArgumentError } from "../../errors.js";
import type { Clock } from "../clock.js";
import { DEFAULT_KEY_PREFIX, KeyspaceLockBackend } from "../keyspace/backend.js";
import { validateKeyPrefix } from "../keyspace/keys.js";
import { type BackendGuarantees, LEASE_KINDS } from "../types.js";
import { positiveInteger } from "../validate.js";
import { Etcd3 } from "./driver.js";
import { EtcdStore } from "./store.js";

export interface EtcdLockBackendOptions {
  /**
   * An etcd3 client to use (not closed by the backend), or the client
   * options / "host:port" endpoint(s) for one the backend creates and closes.
   */
  etcd: Etcd3 | IOptions | string | readonly string[];
  /** Prefix of every key. Default "conclave/lock". */
  keyPrefix?: string;
  /** A request without a reply after this long fails with BackendUnavailableError. Default 2000. */
  operationTimeoutMs?: number;
  /**
   * Longest time a waiter or leader observer trusts its watch without
   * reading the queue again (insurance against a watch lost silently). Default 5000.
   */
  recheckIntervalMs?: number;
  clock?: Clock;
}

export const ETCD_GUARANTEES: BackendGuarantees = {
  backend: "etcd",
  fencing: "strict",
  fair: true,
  reentrant: false,
  kinds: LEASE_KINDS,
  onHolderCrash: "expires-after-ttl",
  partition:
    "a holder cut off from the etcd quorum cannot keep its lease alive; its signal fires a safety margin before the lease could end, and etcd deletes its key, waking the next waiter, once the lease TTL (ttlMs rounded up to whole seconds) passes without a keep-alive",
};

/**
 * Locks on etcd v3: the key-queue recipe of {@link KeyspaceLockBackend} over
 * the npm `etcd3` client. Each acquisition grants its own lease and puts one
 * key, `<prefix>/<namespace>/<name>/<kind>/<owner>`, attached to it; the
 * smallest create_revision holds, each waiter watches its predecessor, and
 * the fencing token is the key's create_revision.
 */
export class EtcdLockBackend extends KeyspaceLockBackend {
  constructor(options: EtcdLockBackendOptions) {
    const timeoutMs = positiveInteger(options?.operationTimeoutMs ?? 2000, "operationTimeoutMs");
    // Checked before a client exists, so bad options leave no connection behind.
    validateKeyPrefix(options.keyPrefix ?? DEFAULT_KEY_PREFIX);
    positiveInteger(options.recheckIntervalMs ?? 5000, "recheckIntervalMs");
    const etcd = validateEtcdOption(options?.etcd);
    const owned = !(etcd instanceof Etcd3);
    const client =
      etcd instanceof Etcd3
        ? etcd
        : new Etcd3(isEndpointList(etcd) ? { hosts: endpoints(etcd) } : etcd);
    super(new EtcdStore(client, timeoutMs, owned), {
      guarantees: ETCD_GUARANTEES,
      keyPrefix: options.keyPrefix,
      recheckIntervalMs: options.recheckIntervalMs,
      clock: options.clock,
    });
  }
}

function validateEtcdOption(etcd: unknown): EtcdLockBackendOptions["etcd"] {
  const empty =
    etcd === undefined ||
    etcd === null ||
    (typeof etcd !== "string" && typeof etcd !== "object") ||
    etcd === "" ||
    (Array.isArray(etcd) && (etcd.length === 0 || !etcd.every((e) => typeof e === "string")));
  if (empty) {
    throw new InvalidArgumentError(
      'etcd must be an Etcd3 client, its options, or "host:port" endpoint(s)',
    );
  }
  return etcd as EtcdLockBackendOptions["etcd"];
}

function isEndpointList(
  etcd: IOptions | string | readonly string[],
): etcd is string | readonly string[] {
  return typeof etcd === "string" || Array.isArray(etcd);
}

function endpoints(etcd: string | readonly string[]): string | string[] {
  return typeof etcd === "string" ? etcd : [...etcd];
}
