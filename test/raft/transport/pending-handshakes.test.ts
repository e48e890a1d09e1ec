import { describe, expect, it } from "vitest";
import {
  type PendingConnection,
  PendingHandshakes,
} from "../../../src/raft/transport/pending-handshakes.js";

/** Fake connections whose drop() behaves as a socket close does: the listener releases them. */
function harness(limits = { maxTotal: 6, maxPerHost: 3, maxPerClaimedPeer: 2 }) {
  const pending = new PendingHandshakes(limits);
  const dropped: string[] = [];
  let port = 1;
  const connect = (host: string): string => {
    const key = `${host}:${port++}`;
    const conn: PendingConnection = {
      key,
      host,
      drop: () => {
        dropped.push(key);
        pending.release(key);
      },
    };
    pending.admit(conn);
    return key;
  };
  return { pending, dropped, connect };
}

describe("PendingHandshakes", () => {
  it("admits every new connection; past the per-host bound the host's oldest gives way", () => {
    const { pending, dropped, connect } = harness();
    const keys = [1, 2, 3, 4, 5].map(() => connect("10.0.0.9"));
    expect(dropped).toEqual([keys[0], keys[1]]);
    expect(pending.size).toBe(3);
    expect(pending.displaced).toBe(2);
  });

  it("at the total bound, the busiest host gives way, not a quiet one", () => {
    const { dropped, connect } = harness();
    const quiet = connect("10.0.0.1");
    const other = connect("10.0.0.2");
    const flood = [1, 2, 3].map(() => connect("10.0.0.66"));
    const third = connect("10.0.0.3"); // 6: at the total bound
    const late = connect("10.0.0.4"); // displaces the flood's oldest
    expect(dropped).toEqual([flood[0]]);
    expect([quiet, other, third, late].some((k) => dropped.includes(k))).toBe(false);
  });

  it("a connection that claimed a peer in its hello is out of the anonymous churn", () => {
    const { pending, dropped, connect } = harness();
    const peer = connect("127.0.0.1");
    pending.claim(peer, 1);
    for (let i = 0; i < 100; i++) connect("127.0.0.1");
    expect(dropped).not.toContain(peer);
    expect(pending.has(peer)).toBe(true);
    expect(pending.size).toBe(1 + 3);
  });

  it("connections claiming the same peer are bounded too, oldest first out", () => {
    const { pending, dropped, connect } = harness();
    const claims = [1, 2, 3].map(() => {
      const k = connect("127.0.0.1");
      pending.claim(k, 7);
      return k;
    });
    expect(dropped).toEqual([claims[0]]);
    pending.release(claims[1] as string);
    pending.release(claims[2] as string);
    expect(pending.size).toBe(0);
  });
});
