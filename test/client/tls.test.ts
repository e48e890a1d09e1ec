import https from "node:https";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConclaveClient, seededRandom, UnavailableError } from "../../src/client/index.js";
import { makeTlsFiles, type TlsFiles } from "../raft/transport/helpers.js";

let files: TlsFiles;
let server: https.Server;
let url: string;
/** The certificate CN of each request's client, "" for none. */
const clientNames: string[] = [];

beforeAll(async () => {
  files = makeTlsFiles();
  // The server's own certificate is self-signed ("node"); it trusts "other" as a client.
  server = https.createServer(
    { cert: files.cert, key: files.key, ca: [files.otherCert], requestCert: true },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      clientNames.push(socket.authorized ? String(socket.getPeerCertificate().subject.CN) : "");
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ header: { revision: "3" }, kvs: [], count: "0" }));
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  url = `https://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function withClient<T>(
  tls: ConstructorParameters<typeof ConclaveClient>[0]["tls"],
  f: (c: ConclaveClient) => Promise<T>,
): Promise<T> {
  await using c = new ConclaveClient({
    endpoints: [url],
    timeoutMs: 400,
    random: seededRandom(9),
    ...(tls !== undefined && { tls }),
  });
  return await f(c);
}

describe("https endpoints", () => {
  it("trusts a private CA and presents a client certificate", async () => {
    const tls = { ca: files.cert, cert: files.otherCert, key: files.otherKey };
    expect(await withClient(tls, (c) => c.get("k"))).toBeUndefined();
    expect(clientNames.at(-1)).toBe("conclave-other");
  });

  it("refuses a server whose certificate no trusted CA signed", async () => {
    const error = await withClient(undefined, (c) => c.get("k")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(String((error as UnavailableError).cause)).toMatch(/self-signed certificate/);
  });

  it("presents no client certificate unless given one", async () => {
    // This server insists on one, so a client without it is refused in the handshake.
    const error = await withClient({ ca: files.cert }, (c) => c.get("k")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(String((error as UnavailableError).cause)).toMatch(/certificate required/);
  });
});
