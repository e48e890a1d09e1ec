import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTlsFiles } from "../raft/transport/helpers.js";
import { enableAuth, ok, post, ROOT_PASSWORD, token } from "./auth-support.js";
import { b64, type Member, startCluster, type TestCluster } from "./cluster.js";

let cluster: TestCluster;
let leader: Member;
let tls: ReturnType<typeof makeTlsFiles>;
let port: number;

/** A POST over https presenting the client certificate whose CN is "conclave-node". */
function httpsPost(path: string, body: object, authorization?: string) {
  return new Promise<{ status: number; code?: string }>((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(authorization !== undefined && { authorization }),
        },
        ca: tls.cert,
        cert: tls.cert,
        key: tls.key,
        timeout: 10_000,
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => {
          text += d.toString();
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, code: JSON.parse(text || "{}").code }),
        );
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

beforeAll(async () => {
  tls = makeTlsFiles();
  const pem = { cert: tls.cert.toString(), key: tls.key.toString(), ca: tls.cert.toString() };
  cluster = await startCluster({ https: pem, auth: { bcryptCost: 4 } });
  leader = await cluster.leader();
  // A user that can only be the CN of a certificate: it has no password.
  await ok(leader, "/v3/auth/user/add", { name: "conclave-node", options: { no_password: true } });
  await enableAuth(leader);
  const rootToken = await token(leader, "root", ROOT_PASSWORD);
  await ok(leader, "/v3/auth/user/grant", { user: "conclave-node", role: "writer-a" }, rootToken);
  await leader.app.listen({ host: "127.0.0.1", port: 0 });
  port = (leader.app.server.address() as AddressInfo).port;
}, 30_000);
afterAll(async () => {
  await cluster?.stop();
});

describe("a client certificate as identity", () => {
  it("makes the certificate's CN the user when no token is sent", async () => {
    expect(await httpsPost("/v3/kv/put", { key: b64("a/cn"), value: b64("1") })).toEqual({
      status: 200,
      code: undefined,
    });
    expect(await httpsPost("/v3/kv/put", { key: b64("b/cn"), value: b64("1") })).toEqual({
      status: 403,
      code: "PERMISSION_DENIED",
    });
    expect((await httpsPost("/v3/cluster/member/add", { peerURLs: ["127.0.0.1:1"] })).code).toBe(
      "PERMISSION_DENIED",
    );
  });

  it("lets a token speak for another user over the same certificate", async () => {
    const rootToken = await token(leader, "root", ROOT_PASSWORD);
    const r = await httpsPost("/v3/kv/put", { key: b64("b/cn"), value: b64("1") }, rootToken);
    expect(r.status).toBe(200);
  });

  it("gives a user without a password no way in by password", async () => {
    const r = await post(leader, "/v3/auth/authenticate", { name: "conclave-node", password: "" });
    expect(r).toMatchObject({ status: 401, body: { code: "AUTH_FAILED" } });
  });
});
