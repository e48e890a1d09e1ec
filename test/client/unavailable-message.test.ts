/** An UnavailableError names every endpoint the call tried, with its last failure, within a bound. */
import { describe, expect, it } from "vitest";
import { describeTried } from "../../src/client/attempt.js";
import { ConclaveClient, seededRandom, UnavailableError } from "../../src/client/index.js";
import { freePort } from "../support/free-port.js";

const deadEndpoints = async (n: number) =>
  Promise.all(Array.from({ length: n }, async () => `http://127.0.0.1:${await freePort()}`));

describe("UnavailableError message", () => {
  it("names each endpoint tried and why it failed", async () => {
    const endpoints = await deadEndpoints(2);
    const client = new ConclaveClient({
      endpoints,
      timeoutMs: 800,
      random: seededRandom(5),
      backoff: { baseMs: 5, maxMs: 20 },
    });
    try {
      const error = await client.get("k").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnavailableError);
      const message = (error as Error).message;
      expect(message).toMatch(/^no endpoint answered before the call ended; tried /);
      // Each endpoint with its last failure: refused, or (when the call's
      // deadline ended the last attempt on a busy machine) no answer in time.
      for (const endpoint of endpoints) {
        expect(message).toMatch(
          new RegExp(`${endpoint} \\((did not answer: [^)]+|no answer before the deadline)\\)`),
        );
      }
      expect(message).toContain("ECONNREFUSED");
    } finally {
      await client.close();
    }
  });

  it("names at most five endpoints and counts the rest", async () => {
    const endpoints = await deadEndpoints(7);
    const client = new ConclaveClient({
      endpoints,
      timeoutMs: 800,
      random: seededRandom(5),
      backoff: { baseMs: 5, maxMs: 20 },
    });
    try {
      const error = await client.get("k").catch((e: unknown) => e);
      const message = (error as Error).message;
      const named = endpoints.filter((e) => message.includes(e));
      expect(named).toHaveLength(5);
      expect(message).toMatch(/; and 2 more$/);
    } finally {
      await client.close();
    }
  });

  it("cuts each failure to a bounded length", () => {
    const long = "x".repeat(10_000);
    const text = describeTried(
      new Map(Array.from({ length: 20 }, (_, i) => [`http://h${i}:1`, `http://h${i}:1 ${long}`])),
    );
    expect(text.length).toBeLessThan(1000);
    expect(text).toContain("http://h0:1 (xxx");
    expect(text).toContain("…)");
    expect(text).toMatch(/; and 15 more$/);
  });
});
