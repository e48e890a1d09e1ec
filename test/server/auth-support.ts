import { afterAll, beforeAll } from "vitest";
import type { Member, TestCluster } from "./cluster.js";
import { b64, startCluster } from "./cluster.js";

export interface Reply {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field in tests.
  readonly body: any;
}

/** One POST through fastify's inject, with a token when given. */
export async function post(
  m: Member,
  url: string,
  payload: object,
  token?: string,
): Promise<Reply> {
  const res = await m.app.inject({
    method: "POST",
    url,
    payload,
    ...(token !== undefined && { headers: { authorization: token } }),
  });
  return { status: res.statusCode, body: res.body === "" ? {} : safeJson(res.body) };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Asserts a 200 and returns the body. */
export async function ok(m: Member, url: string, payload: object, token?: string) {
  const r = await post(m, url, payload, token);
  if (r.status !== 200) throw new Error(`${url} answered ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export const ROOT_PASSWORD = "root-password";

export async function token(m: Member, name: string, password: string): Promise<string> {
  return (await ok(m, "/v3/auth/authenticate", { name, password })).token;
}

/**
 * root (root role), and a user per role: `reader` with READ on prefix a/,
 * `writer` with READWRITE on prefix a/; then auth enabled.
 */
export async function enableAuth(m: Member): Promise<void> {
  await ok(m, "/v3/auth/user/add", { name: "root", password: ROOT_PASSWORD });
  await ok(m, "/v3/auth/user/grant", { user: "root", role: "root" });
  for (const [user, permType] of [
    ["reader", "READ"],
    ["writer", "READWRITE"],
  ] as const) {
    await ok(m, "/v3/auth/role/add", { name: `${user}-a` });
    await ok(m, "/v3/auth/role/grant", {
      name: `${user}-a`,
      perm: { permType, key: b64("a/"), range_end: b64("a0") },
    });
    await ok(m, "/v3/auth/user/add", { name: user, password: `${user}-password` });
    await ok(m, "/v3/auth/user/grant", { user, role: `${user}-a` });
  }
  await ok(m, "/v3/auth/enable", {});
}

/**
 * A cluster for the enclosing describe block, started with auth enabled
 * (enableAuth) before its tests and stopped after them: call `leader()` in a test.
 */
export function authEnabledCluster(): { leader(): Member } {
  let cluster: TestCluster | undefined;
  let leader: Member | undefined;
  beforeAll(async () => {
    cluster = await startCluster();
    leader = await cluster.leader();
    await enableAuth(leader);
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  return {
    leader() {
      if (leader === undefined) throw new Error("the cluster has not started");
      return leader;
    },
  };
}
