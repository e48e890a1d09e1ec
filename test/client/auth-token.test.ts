import { UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { TokenSource, tokenSchedule } from "../../src/client/auth-token.js";
import { Deadline } from "../../src/client/deadline.js";
import {
  AuthFailedError,
  TooManyAuthRequestsError,
  UnavailableError,
} from "../../src/client/index.js";

/** A JWT as the server issues one (the client never checks its signature). */
function jwt(claims: { iat?: number; exp?: number }): string {
  const token = new UnsecuredJWT({});
  if (claims.iat !== undefined) token.setIssuedAt(claims.iat);
  if (claims.exp !== undefined) token.setExpirationTime(claims.exp);
  return token.encode();
}

const password = { kind: "password", username: "alice", password: "pw" } as const;

/** A token source on a hand-moved clock, authenticating with scripted answers. */
function source(answers: (() => Promise<string>)[]) {
  const clock = { nowMs: 1_000_000 };
  let calls = 0;
  const tokens = new TokenSource(
    password,
    () => {
      const answer = answers[Math.min(calls, answers.length - 1)]!;
      calls++;
      return answer();
    },
    () => clock.nowMs,
  );
  return { tokens, clock, calls: () => calls };
}

function withDeadline<T>(f: (deadline: Deadline) => Promise<T>): Promise<T> {
  const deadline = new Deadline(5000);
  return f(deadline).finally(() => deadline[Symbol.dispose]());
}

describe("tokenSchedule", () => {
  it("refreshes at 80% of the life between iat and exp, counted from when it was obtained", () => {
    // Whatever the server's clock says, the life is exp - iat: 100 s.
    expect(tokenSchedule(jwt({ iat: 50, exp: 150 }), 1_000_000)).toEqual({
      refreshAtMs: 1_080_000,
      expiresAtMs: 1_100_000,
    });
  });

  it("without iat, counts the life from this clock; without exp or a JWT, never refreshes", () => {
    expect(tokenSchedule(jwt({ exp: 1100 }), 1_000_000)).toEqual({
      refreshAtMs: 1_080_000,
      expiresAtMs: 1_100_000,
    });
    const never = { refreshAtMs: Number.POSITIVE_INFINITY, expiresAtMs: Number.POSITIVE_INFINITY };
    expect(tokenSchedule(jwt({ iat: 5 }), 0)).toEqual(never);
    expect(tokenSchedule("simple-token.17", 0)).toEqual(never);
  });
});

describe("TokenSource", () => {
  const t1 = jwt({ iat: 0, exp: 100 });
  const t2 = jwt({ iat: 0, exp: 101 });

  it("authenticates on first use, keeps the token until it is due, then replaces it", async () => {
    const { tokens, clock, calls } = source([async () => t1, async () => t2]);
    expect(calls()).toBe(0);
    expect(await withDeadline((d) => tokens.token(d))).toBe(t1);
    clock.nowMs += 79_999;
    expect(await withDeadline((d) => tokens.token(d))).toBe(t1);
    clock.nowMs += 1;
    expect(await withDeadline((d) => tokens.token(d))).toBe(t2);
    expect(calls()).toBe(2);
  });

  it("uses the due token while it has not expired if the refresh cannot reach a server", async () => {
    const down = async () => {
      throw new UnavailableError("no endpoint answered");
    };
    const { tokens, clock } = source([async () => t1, down]);
    await withDeadline((d) => tokens.token(d));
    clock.nowMs += 90_000;
    expect(await withDeadline((d) => tokens.token(d))).toBe(t1);
    clock.nowMs += 10_000;
    await expect(withDeadline((d) => tokens.token(d))).rejects.toBeInstanceOf(UnavailableError);
  });

  it("does not fall back on the held token when the password is refused", async () => {
    const refused = async () => {
      throw new AuthFailedError("authentication failed", 401);
    };
    const { tokens, clock } = source([async () => t1, refused]);
    await withDeadline((d) => tokens.token(d));
    clock.nowMs += 90_000;
    await expect(withDeadline((d) => tokens.token(d))).rejects.toBeInstanceOf(AuthFailedError);
  });

  it("sends no authentication until the server's retry-after has passed", async () => {
    const locked = async () => {
      throw new TooManyAuthRequestsError("too many failed authentications", 429, 10_000);
    };
    const { tokens, clock, calls } = source([locked, async () => t1]);
    await expect(withDeadline((d) => tokens.token(d))).rejects.toBeInstanceOf(
      TooManyAuthRequestsError,
    );
    clock.nowMs += 9_000;
    const early = await withDeadline((d) => tokens.token(d)).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(TooManyAuthRequestsError);
    expect((early as TooManyAuthRequestsError).retryAfterMs).toBe(1_000);
    expect(calls()).toBe(1);
    clock.nowMs += 1_000;
    expect(await withDeadline((d) => tokens.token(d))).toBe(t1);
    expect(calls()).toBe(2);
  });

  it("forgets a refused token so the next call authenticates again", async () => {
    const { tokens, calls } = source([async () => t1, async () => t2]);
    await withDeadline((d) => tokens.token(d));
    expect(tokens.refused(t1)).toBe(true);
    expect(await withDeadline((d) => tokens.token(d))).toBe(t2);
    // A stale refusal (of a token already replaced) keeps the current one.
    expect(tokens.refused(t1)).toBe(true);
    expect(await withDeadline((d) => tokens.token(d))).toBe(t2);
    expect(calls()).toBe(2);
  });

  it("a given token is used as is and cannot be renewed", async () => {
    const tokens = new TokenSource({ kind: "token", token: "given" }, () => {
      throw new Error("never called");
    });
    expect(await withDeadline((d) => tokens.token(d))).toBe("given");
    expect(tokens.refused("given")).toBe(false);
  });

  it("a caller whose deadline ends stops waiting; the shared authentication carries on for others", async () => {
    let finish: (token: string) => void = () => {};
    const { tokens } = source([() => new Promise<string>((resolve) => (finish = resolve))]);
    const caller = new AbortController();
    const short = new Deadline(5000, caller.signal);
    const first = tokens.token(short).catch((e: unknown) => e);
    const second = withDeadline((d) => tokens.token(d));
    caller.abort();
    expect(await first).toMatchObject({ code: "ABORTED" });
    finish(t1);
    expect(await second).toBe(t1);
    short[Symbol.dispose]();
  });
});
