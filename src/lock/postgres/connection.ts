import type pg from "pg";
import { Pool } from "./driver.js";

/** Either a pool the caller owns, or how to build one the backend owns. */
export type PostgresConnection = pg.Pool | pg.PoolConfig | string;

export function openPool(connection: PostgresConnection): { pool: pg.Pool; owned: boolean } {
  if (connection instanceof Pool) return { pool: connection, owned: false };
  const config = typeof connection === "string" ? { connectionString: connection } : connection;
  const pool = new Pool(config);
  // Errors of idle clients surface through later queries; unhandled they would crash the process.
  pool.on("error", () => {});
  return { pool, owned: true };
}

/**
 * Closes a pooled connection instead of reusing it. A late 'error' from the
 * closing socket must not crash the process, so one no-op listener stays.
 */
export function discardClient(client: pg.PoolClient): void {
  client.on("error", () => {});
  client.release(true);
}

/**
 * One LISTEN connection per backend, fanning notifications out to local
 * listeners by payload. Listeners are counted; none are left after a waiter
 * leaves.
 */
export class NotificationHub {
  readonly #pool: pg.Pool;
  readonly #channel: string;
  readonly #listeners = new Map<string, Set<() => void>>();
  #client: Promise<pg.PoolClient> | undefined;
  #closed = false;

  constructor(pool: pg.Pool, channel: string) {
    this.#pool = pool;
    this.#channel = channel;
  }

  async subscribe(payload: string, listener: () => void): Promise<() => void> {
    await this.#connect();
    let listeners = this.#listeners.get(payload);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(payload, listeners);
    }
    const own = listeners;
    own.add(listener);
    return () => {
      own.delete(listener);
      if (own.size === 0 && this.#listeners.get(payload) === own) this.#listeners.delete(payload);
    };
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    const client = await this.#client?.catch(() => undefined);
    this.#client = undefined;
    if (client !== undefined) discardClient(client);
  }

  #connect(): Promise<pg.PoolClient> {
    if (this.#closed) return Promise.reject(new Error("notification hub is closed"));
    this.#client ??= (async () => {
      const client = await this.#pool.connect();
      client.on("notification", (message) => {
        const listeners = this.#listeners.get(message.payload ?? "");
        if (listeners === undefined) return;
        for (const listener of [...listeners]) listener();
      });
      const reconnect = () => {
        // Lost the LISTEN connection: reopen on next use; waiters fall back to polling meanwhile.
        this.#client = undefined;
        discardClient(client);
      };
      client.on("error", reconnect);
      await client.query(`LISTEN "${this.#channel}"`);
      return client;
    })();
    const pending = this.#client;
    pending.catch(() => {
      if (this.#client === pending) this.#client = undefined;
    });
    return pending;
  }
}
