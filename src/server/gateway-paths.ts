/**
 * Paths etcd's JSON gateway also answers, as the routes here name them:
 * the older API prefixes (etcd3gw still defaults to `/v3alpha/`), and the
 * lease calls etcd binds a second time under `/v3/kv/lease/`.
 */
const ALIASES: Readonly<Record<string, string>> = {
  "/v3/kv/lease/revoke": "/v3/lease/revoke",
  "/v3/kv/lease/timetolive": "/v3/lease/timetolive",
  "/v3/kv/lease/leases": "/v3/lease/leases",
};

const OLD_PREFIX = /^\/v3(?:alpha|beta)\//;

/** The path (and query) a request for `url` is routed by (fastify's rewriteUrl). */
export function gatewayPath(url: string): string {
  const path = url.replace(OLD_PREFIX, "/v3/");
  const q = path.indexOf("?");
  const bare = q === -1 ? path : path.slice(0, q);
  const alias = ALIASES[bare];
  return alias === undefined ? path : alias + (q === -1 ? "" : path.slice(q));
}
