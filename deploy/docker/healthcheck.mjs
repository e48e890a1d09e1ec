// Container health check of a Conclave member: GET /health on its own client
// port, over loopback. Exit 0 when the member answers 200, else 1.
//
// The URL comes from HEALTHCHECK_URL, else from the member's own settings:
// the port of CONCLAVE_LISTEN_CLIENT, https when CONCLAVE_CLIENT_CERT_FILE is
// set. Over https the member's certificate is not verified (this only asks a
// process on the same host whether it is alive); when the member requires
// client certificates (CONCLAVE_CLIENT_CA_FILE) its own certificate and key
// are presented, which then need the clientAuth extended key usage.
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

const TIMEOUT_MS = 2500;
const env = process.env;

function healthUrl() {
  if (env.HEALTHCHECK_URL) return new URL(env.HEALTHCHECK_URL);
  const listen = env.CONCLAVE_LISTEN_CLIENT ?? "127.0.0.1:7379";
  const port = listen.slice(listen.lastIndexOf(":") + 1);
  const scheme = env.CONCLAVE_CLIENT_CERT_FILE ? "https" : "http";
  return new URL(`${scheme}://127.0.0.1:${port}/health`);
}

const url = healthUrl();
const tls =
  url.protocol === "https:"
    ? {
        rejectUnauthorized: false,
        ...(env.CONCLAVE_CLIENT_CA_FILE &&
          env.CONCLAVE_CLIENT_CERT_FILE &&
          env.CONCLAVE_CLIENT_KEY_FILE && {
            cert: readFileSync(env.CONCLAVE_CLIENT_CERT_FILE),
            key: readFileSync(env.CONCLAVE_CLIENT_KEY_FILE),
          }),
      }
    : {};
const send = url.protocol === "https:" ? httpsRequest : httpRequest;
const req = send(url, { method: "GET", timeout: TIMEOUT_MS, ...tls }, (res) => {
  res.resume();
  res.on("end", () => process.exit(res.statusCode === 200 ? 0 : 1));
});
req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
req.on("error", (err) => {
  console.error(`health check ${url.href}: ${err.message}`);
  process.exit(1);
});
req.end();
