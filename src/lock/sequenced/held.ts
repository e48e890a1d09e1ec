import type { LeaseRef } from "../backend.js";
import { LockLostError } from "../errors.js";
import type { LocalLeaseEnd } from "./lease-end.js";

/** What a backend keeps for a lease it holds for the client. */
export interface HeldLease {
  readonly name: string;
  readonly end: LocalLeaseEnd;
  readonly lost: AbortController;
  /** Removes what watches the held entry on the server. */
  readonly detach: () => void;
}

/** The leases a backend holds, by owner id. */
export class HeldLeases<THeld extends HeldLease> {
  readonly #byOwner = new Map<string, THeld>();

  get(ownerId: string): THeld | undefined {
    return this.#byOwner.get(ownerId);
  }

  set(ownerId: string, held: THeld): void {
    this.#byOwner.set(ownerId, held);
  }

  /** The held lease to renew; LockLostError when it ran out or was given up. */
  toRenew(lease: LeaseRef): THeld {
    const held = this.#byOwner.get(lease.ownerId);
    if (held === undefined || held.end.ended) {
      throw new LockLostError(lease.name, "the lease ran out or was given up");
    }
    return held;
  }

  /** Stops tracking `held`: its local end and its watch. */
  forget(ownerId: string, held: THeld): void {
    if (this.#byOwner.get(ownerId) === held) this.#byOwner.delete(ownerId);
    held.end.stop();
    held.detach();
  }

  /** Forgets every held lease (the backend closes), handing each to `each`. */
  forgetAll(each: (held: THeld) => void = () => {}): void {
    for (const [ownerId, held] of [...this.#byOwner]) {
      this.forget(ownerId, held);
      each(held);
    }
  }

  /**
   * The lease ran out without a renewal: forgets it and fires its loss
   * signal. Returns it, for the backend to end it on the server at once
   * rather than wait for the server's own expiry.
   */
  giveUp(ownerId: string): THeld | undefined {
    const held = this.#byOwner.get(ownerId);
    if (held === undefined) return undefined;
    this.forget(ownerId, held);
    held.lost.abort(new LockLostError(held.name, "the lease was not renewed in time"));
    return held;
  }
}
