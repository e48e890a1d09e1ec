import type { Clock } from "../clock.js";
import { BackendUnavailableError } from "../errors.js";
import {
  createZkClient,
  ZK_CONNECTION_EXPIRED_STATE,
  ZK_ERROR,
  type ZkException,
  type ZkRawClient,
  type ZkStat,
  type ZkWatcher,
  zkErrorCode,
} from "./library.js";

const SYNC_CONNECTED = 3;
/** Pause before trying the ensemble's servers again after all failed (the library's default is 1 s). */
const SPIN_DELAY_MS = 200;

export interface ZkSessionOptions {
  readonly connectString: string;
  /** The session timeout to ask for; the server may raise or lower it (see `timeoutMs`). */
  readonly requestedTimeoutMs: number;
  /** Every request (and the connect) fails with BackendUnavailableError after this long. */
  readonly operationTimeoutMs: number;
  readonly clock: Clock;
  /** Resume an existing session instead of creating one. */
  readonly resume?: { readonly sessionId: Buffer; readonly password: Buffer };
}

/** A read with the instant its request was sent: the session was alive after that. */
export interface Timed<T> {
  readonly value: T;
  readonly sentAtMs: number;
}

/**
 * One ZooKeeper session over one connection. The session, not the TCP
 * connection, owns ephemeral znodes: the library reconnects within the
 * session timeout and the znodes survive; when the session expires the
 * server deletes them and `ended` aborts (once the client hears of it).
 *
 * Every request is bounded by the operation timeout; expected answers
 * (no such node) are results, every failure is BackendUnavailableError with
 * the library's error as `cause`.
 */
export class ZkSession {
  readonly timeoutMs: number;
  readonly #client: ZkRawClient;
  readonly #options: ZkSessionOptions;
  readonly #ended = new AbortController();
  #closing: Promise<void> | undefined;

  private constructor(client: ZkRawClient, options: ZkSessionOptions) {
    this.#client = client;
    this.#options = options;
    this.timeoutMs = client.getSessionTimeout();
    client.on("expired", () => this.#end("the ZooKeeper session expired"));
    client.on("authenticationFailed", () => this.#end("ZooKeeper authentication failed"));
  }

  static async open(options: ZkSessionOptions): Promise<ZkSession> {
    const client = createZkClient(options.connectString, {
      sessionTimeout: options.requestedTimeoutMs,
      spinDelay: SPIN_DELAY_MS,
      retries: 0,
      ...(options.resume === undefined
        ? {}
        : { sessionId: options.resume.sessionId, sessionPassword: options.resume.password }),
    });
    const connected = new Promise<void>((resolve, reject) => {
      client.once("connected", () => resolve());
      client.once("expired", () => reject(new Error("the session to resume has expired")));
    });
    client.connect();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        connected,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no session within ${options.operationTimeoutMs} ms`)),
            options.operationTimeoutMs,
          );
        }),
      ]);
    } catch (error) {
      dropConnection(client);
      throw new BackendUnavailableError(
        "zookeeper",
        `cannot open a session with ${options.connectString}: ${(error as Error).message}`,
        undefined,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
    return new ZkSession(client, options);
  }

  /** Aborts when the session is gone: expired, closed or abandoned. */
  get ended(): AbortSignal {
    return this.#ended.signal;
  }

  get sessionId(): Buffer {
    return this.#client.getSessionId();
  }

  get password(): Buffer {
    return this.#client.getSessionPassword();
  }

  /** Resolves once the connection is up again (the library reconnects by itself). */
  async connected(lockName: string): Promise<void> {
    if (this.#client.getState().getCode() === SYNC_CONNECTED) return;
    await this.#request<void>(lockName, "reconnect", (done) => {
      const onConnected = () => done(null);
      this.#client.once("connected", onConnected);
      this.#ended.signal.addEventListener("abort", onConnected, { once: true });
    });
  }

  create(path: string, data: Buffer, mode: number, lockName: string): Promise<string> {
    return this.#request(lockName, `create ${path}`, (done) =>
      this.#client.create(path, data, mode, (error, created) => done(error, created)),
    );
  }

  /** Creates the path and its missing ancestors as persistent znodes. */
  async mkdirp(path: string, lockName: string): Promise<void> {
    await this.#request(lockName, `create ${path}`, (done) =>
      this.#client.mkdirp(path, (error) => done(error)),
    );
  }

  /** Deletes the znode; false if it does not exist. */
  remove(path: string, lockName: string): Promise<boolean> {
    return this.#request(lockName, `delete ${path}`, (done) =>
      this.#client.remove(path, -1, (error) => {
        if (zkErrorCode(error) === ZK_ERROR.NO_NODE) done(null, false);
        else done(error, true);
      }),
    );
  }

  async exists(
    path: string,
    lockName: string,
    watcher?: ZkWatcher,
  ): Promise<Timed<ZkStat | undefined>> {
    const sentAtMs = this.#options.clock.now();
    const value = await this.#request<ZkStat | undefined>(lockName, `exists ${path}`, (done) =>
      this.#client.exists(path, watcher, (error, stat) => done(error, stat ?? undefined)),
    );
    return { value, sentAtMs };
  }

  /** The znode's children; undefined if it does not exist. */
  async children(
    path: string,
    lockName: string,
    watcher?: ZkWatcher,
  ): Promise<Timed<string[] | undefined>> {
    const sentAtMs = this.#options.clock.now();
    const value = await this.#request<string[] | undefined>(lockName, `list ${path}`, (done) =>
      this.#client.getChildren(path, watcher, (error, children) => {
        if (zkErrorCode(error) === ZK_ERROR.NO_NODE) done(null, undefined);
        else done(error, children);
      }),
    );
    return { value, sentAtMs };
  }

  /** The znode's data and stat; undefined if it does not exist. */
  getData(
    path: string,
    lockName: string,
    watcher?: ZkWatcher,
  ): Promise<{ data: Buffer; stat: ZkStat } | undefined> {
    return this.#request(lockName, `read ${path}`, (done) =>
      this.#client.getData(path, watcher, (error, data, stat) => {
        if (zkErrorCode(error) === ZK_ERROR.NO_NODE) done(null, undefined);
        else done(error, { data: data ?? Buffer.alloc(0), stat });
      }),
    );
  }

  /** Replaces the znode's data; false if it does not exist. */
  setData(path: string, data: Buffer, lockName: string): Promise<boolean> {
    return this.#request(lockName, `write ${path}`, (done) =>
      this.#client.setData(path, data, -1, (error) => {
        if (zkErrorCode(error) === ZK_ERROR.NO_NODE) done(null, false);
        else done(error, true);
      }),
    );
  }

  /**
   * Ends the session: the server deletes its ephemeral znodes at once.
   * Requests sent before still get their replies. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const disconnected = new Promise<void>((resolve) =>
        this.#client.once("disconnected", resolve),
      );
      this.#client.close();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        disconnected,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.#options.operationTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      dropConnection(this.#client);
      this.#end("the session was closed");
    })();
    return this.#closing;
  }

  /**
   * Stops talking to the server without closing the session, as a crashed
   * process would: its znodes stay until the server expires the session.
   */
  abandon(): void {
    if (this.#closing !== undefined) return;
    this.#closing = Promise.resolve();
    dropConnection(this.#client);
    this.#end("the session was abandoned");
  }

  #end(reason: string): void {
    if (!this.#ended.signal.aborted) this.#ended.abort(new Error(reason));
  }

  #request<T>(
    lockName: string,
    what: string,
    send: (done: (error: ZkException | null, result?: T) => void) => void,
  ): Promise<T> {
    const { operationTimeoutMs } = this.#options;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new BackendUnavailableError(
              "zookeeper",
              `${what}: no reply within ${operationTimeoutMs} ms`,
              lockName,
            ),
          ),
        operationTimeoutMs,
      );
      const done = (error: ZkException | Error | null, result?: T) => {
        clearTimeout(timer);
        if (error === null) resolve(result as T);
        else {
          reject(
            new BackendUnavailableError("zookeeper", `${what}: ${error.message}`, lockName, {
              cause: error,
            }),
          );
        }
      };
      try {
        send(done);
      } catch (error) {
        // The library asserts on its arguments by throwing; that must not escape untyped.
        done(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }
}

/**
 * Drops the connection for good. The library reconnects after any socket
 * close unless it believes the session expired, so it is told so first.
 */
function dropConnection(client: ZkRawClient): void {
  client.connectionManager.state = ZK_CONNECTION_EXPIRED_STATE;
  client.connectionManager.socket?.destroy();
}
