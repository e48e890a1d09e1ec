/**
 * The typed surface of `node-zookeeper-client` this backend uses. The
 * package ships no type declarations; this module declares the few calls we
 * make, so nothing untyped crosses into the rest of the code.
 */
import { importOptionalDriver } from "../optional-driver.js";

/** A znode's metadata. The 64-bit fields arrive as 8-byte big-endian buffers. */
export interface ZkStat {
  /** The zxid of the transaction that created the znode. */
  readonly czxid: Buffer;
  /** The session id owning an ephemeral znode (zero for persistent ones). */
  readonly ephemeralOwner: Buffer;
  readonly version: number;
}

/** The library's error: `getCode()` is ZooKeeper's numeric error code. */
export interface ZkException extends Error {
  getCode(): number;
}

export interface ZkWatchEvent {
  getType(): number;
  getPath(): string;
}

export type ZkWatcher = (event: ZkWatchEvent) => void;

type Callback<T extends unknown[]> = (error: ZkException | null, ...results: T) => void;

export interface ZkRawClient {
  connect(): void;
  /** Sends closeSession; the server then deletes the session's ephemeral znodes. */
  close(): void;
  getSessionTimeout(): number;
  getSessionId(): Buffer;
  getSessionPassword(): Buffer;
  getState(): { getCode(): number };
  create(path: string, data: Buffer, mode: number, callback: Callback<[string]>): void;
  remove(path: string, version: number, callback: Callback<[]>): void;
  exists(path: string, watcher: ZkWatcher | undefined, callback: Callback<[ZkStat | null]>): void;
  getChildren(
    path: string,
    watcher: ZkWatcher | undefined,
    callback: Callback<[string[], ZkStat]>,
  ): void;
  getData(
    path: string,
    watcher: ZkWatcher | undefined,
    callback: Callback<[Buffer | null, ZkStat]>,
  ): void;
  setData(path: string, data: Buffer, version: number, callback: Callback<[ZkStat]>): void;
  mkdirp(path: string, callback: Callback<[string]>): void;
  on(event: ZkClientEvent, listener: () => void): void;
  once(event: ZkClientEvent, listener: () => void): void;
  off(event: ZkClientEvent, listener: () => void): void;
  /** Internal to the library; used only to drop a connection it will not give up by itself. */
  readonly connectionManager: {
    state: number;
    socket?: { destroy(): void };
  };
}

export type ZkClientEvent = "connected" | "disconnected" | "expired" | "authenticationFailed";

export interface ZkClientOptions {
  /** Requested session timeout; the server clamps it to [minSessionTimeout, maxSessionTimeout]. */
  readonly sessionTimeout: number;
  /** Upper bound of the random pause before retrying the ensemble's servers again. */
  readonly spinDelay: number;
  /** Retries of a request after a connection loss; 0: the caller decides. */
  readonly retries: number;
  /** Resume an existing session (tests use this to end a session from outside). */
  readonly sessionId?: Buffer;
  readonly sessionPassword?: Buffer;
}

interface ZkModule {
  createClient(connectionString: string, options: ZkClientOptions): ZkRawClient;
}

// The package is CommonJS: its exports arrive as the namespace's default.
const zookeeper = (
  await importOptionalDriver<{ default: ZkModule }>(
    "node-zookeeper-client",
    "conclave/lock/zookeeper",
  )
).default;

export function createZkClient(connectString: string, options: ZkClientOptions): ZkRawClient {
  return zookeeper.createClient(connectString, options);
}

/** ZooKeeper error codes (KeeperException.Code) this backend reacts to. */
export const ZK_ERROR = {
  CONNECTION_LOSS: -4,
  NO_NODE: -101,
  BAD_VERSION: -103,
  NODE_EXISTS: -110,
  SESSION_EXPIRED: -112,
} as const;

export const ZK_CREATE_MODE = { PERSISTENT: 0, EPHEMERAL: 1, EPHEMERAL_SEQUENTIAL: 3 } as const;

export const ZK_EVENT = { NODE_DELETED: 2 } as const;

/** The library's connection-manager state meaning "the session expired": it then never reconnects. */
export const ZK_CONNECTION_EXPIRED_STATE = -3;

/** The ZooKeeper error code of an error from the library, if it is one. */
export function zkErrorCode(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const getCode = (error as { getCode?: unknown }).getCode;
  return typeof getCode === "function" ? (getCode.call(error) as number) : undefined;
}
