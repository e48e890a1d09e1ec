import type { Redis } from "ioredis";

/**
 * Release notifications over one subscriber connection per backend.
 * Listeners are counted per channel; the channel is unsubscribed when its
 * last listener leaves, so an aborted waiter leaves no subscription behind.
 */
export class WakeChannels {
  readonly #connect: () => Redis;
  #subscriber: Redis | undefined;
  readonly #listeners = new Map<string, Set<() => void>>();

  constructor(connect: () => Redis) {
    this.#connect = connect;
  }

  /** Resolves once the server confirmed the subscription, with a function that removes the listener. */
  async subscribe(channel: string, listener: () => void): Promise<() => void> {
    const subscriber = this.#ensureSubscriber();
    let listeners = this.#listeners.get(channel);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(channel, listeners);
    }
    const own = listeners;
    own.add(listener);
    const unsubscribe = () => {
      own.delete(listener);
      if (own.size === 0 && this.#listeners.get(channel) === own) {
        this.#listeners.delete(channel);
        subscriber.unsubscribe(channel).catch(() => {});
      }
    };
    try {
      // Later subscribers of a channel wait on the same (idempotent) command.
      await subscriber.subscribe(channel);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  /** Number of channels with listeners (diagnostics and tests). */
  get channelCount(): number {
    return this.#listeners.size;
  }

  close(): void {
    this.#listeners.clear();
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  #ensureSubscriber(): Redis {
    if (this.#subscriber === undefined) {
      const subscriber = this.#connect();
      subscriber.on("message", (channel: string) => {
        const listeners = this.#listeners.get(channel);
        if (listeners === undefined) return;
        for (const listener of [...listeners]) listener();
      });
      // Errors surface through command rejections; without a listener they would crash the process.
      subscriber.on("error", () => {});
      this.#subscriber = subscriber;
    }
    return this.#subscriber;
  }
}
