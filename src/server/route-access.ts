import { commandAccess, type KeyAccess } from "../auth/index.js";
import { KvError } from "../kv/index.js";
import type { KvAccess } from "./kv-access.js";
import { type BatchRequestJson, batchAccess } from "./kv-batch.js";
import type {
  DeleteRangeRequestJson,
  Int64Json,
  PutRequestJson,
  RangeRequestJson,
  TxnRequestJson,
} from "./kv-schemas.js";
import { deleteRangeCommand, putCommand, rangeCommand, txnCommand } from "./kv-translate.js";
import { VALUE_ROUTE, type ValueQueryJson, valuePutCommand } from "./kv-value.js";
import type { ServerLimits } from "./options.js";
import { unwrapWatchBody, type WatchRouteBody } from "./watch-routes.js";
import { decodeKey, parseInt64 } from "./wire.js";

/**
 * What a caller needs for a route while auth is enabled:
 * - open: anyone (no key data, or the way to get credentials);
 * - authenticated: any user;
 * - root: a user holding the root role;
 * - self: root, or the user the body's `field` names;
 * - member-self: root, or the member whose id is the body's ID (a follower
 *   publishing its own attributes);
 * - keys: read or write permission on every key the body (or, on a route
 *   whose body is a raw value, the query) names.
 */
export type RouteAccess =
  | { readonly kind: "open" | "authenticated" | "root" }
  | { readonly kind: "self"; readonly field: string }
  | { readonly kind: "member-self" }
  | { readonly kind: "keys"; readonly keys: (body: unknown, query: unknown) => KeyAccess[] };

const OPEN = { kind: "open" } as const;
const AUTHENTICATED = { kind: "authenticated" } as const;
const ROOT = { kind: "root" } as const;

function leaseKeys(kv: KvAccess, id: Int64Json, mode: KeyAccess["mode"]): KeyAccess[] {
  try {
    return kv.store.leaseTimeToLive(parseInt64(id, "ID")).keys.map((key) => ({ mode, key }));
  } catch (err) {
    // An unknown lease touches no key; the route itself answers for it.
    if (err instanceof KvError) return [];
    throw err;
  }
}

/**
 * The one table of who may call what, keyed "METHOD url". A route missing
 * here is refused to everyone while auth is enabled, and a test walks every
 * registered route to keep the table complete.
 */
export function routeAccessTable(kv: KvAccess, limits: ServerLimits): Map<string, RouteAccess> {
  const keys = (f: (body: never, query: never) => KeyAccess[]): RouteAccess => ({
    kind: "keys",
    keys: f as (body: unknown, query: unknown) => KeyAccess[],
  });
  const entries: [string, RouteAccess][] = [
    ["GET /health", OPEN],
    ["GET /ready", OPEN],
    ["GET /metrics", OPEN],
    ["GET /openapi.json", OPEN],
    ["GET /status", AUTHENTICATED],
    // The dashboard's pages and scripts hold no data: it reads the API with the user's token.
    ["GET /ui", OPEN],
    ["GET /ui/:file", OPEN],
    ["GET /ui/vendor/:file", OPEN],
    ["GET /v3/cluster/events", AUTHENTICATED],
    ["POST /v3/cluster/progress", AUTHENTICATED],
    ["POST /v3/ring/lookup", AUTHENTICATED],
    ["POST /v3/kv/range", keys((b: RangeRequestJson) => commandAccess(rangeCommand(b, limits)))],
    ["POST /v3/kv/put", keys((b: PutRequestJson) => commandAccess(putCommand(b, limits)))],
    [
      `POST ${VALUE_ROUTE}`,
      keys((b: unknown, q: ValueQueryJson) => commandAccess(valuePutCommand(q, b, limits))),
    ],
    [
      "POST /v3/kv/deleterange",
      keys((b: DeleteRangeRequestJson) => commandAccess(deleteRangeCommand(b, limits))),
    ],
    ["POST /v3/kv/txn", keys((b: TxnRequestJson) => commandAccess(txnCommand(b, limits)))],
    // Every key of every request: a batch is refused whole when any is not allowed.
    ["POST /v3/kv/batch", keys((b: BatchRequestJson) => batchAccess(b, limits))],
    // Compaction drops every key's history, so it is not any one key's business.
    ["POST /v3/kv/compaction", ROOT],
    [
      "POST /v3/watch",
      keys((body: WatchRouteBody) => {
        const b = unwrapWatchBody(body).request;
        return [
          {
            mode: "read",
            key: decodeKey(b.key, "key", limits),
            ...(b.range_end !== undefined && {
              rangeEnd: decodeKey(b.range_end, "range_end", limits),
            }),
          },
        ];
      }),
    ],
    ["POST /v3/lease/grant", AUTHENTICATED],
    ["POST /v3/lease/keepalive", AUTHENTICATED],
    ["POST /v3/lease/keepalives", AUTHENTICATED],
    ["POST /v3/lease/leases", AUTHENTICATED],
    ["POST /v3/lease/revoke", keys((b: { ID: Int64Json }) => leaseKeys(kv, b.ID, "write"))],
    [
      "POST /v3/lease/timetolive",
      keys((b: { ID: Int64Json; keys?: boolean }) =>
        b.keys === true ? leaseKeys(kv, b.ID, "read") : [],
      ),
    ],
    ["POST /v3/cluster/member/list", AUTHENTICATED],
    ["POST /v3/cluster/member/add", ROOT],
    ["POST /v3/cluster/member/remove", ROOT],
    ["POST /v3/cluster/member/promote", ROOT],
    ["POST /v3/cluster/member/update", { kind: "member-self" }],
    ["POST /v3/maintenance/status", AUTHENTICATED],
    ["POST /v3/maintenance/transfer-leadership", ROOT],
    ["POST /v3/maintenance/snapshot", ROOT],
    // Checksums of the whole store: they reveal that any key changed, so not one key's business.
    ["POST /v3/maintenance/hash", ROOT],
    ["POST /v3/maintenance/hashkv", ROOT],
    ["POST /v3/maintenance/defragment", ROOT],
    // Raising or clearing an alarm starts or stops every write in the cluster.
    ["POST /v3/maintenance/alarm", ROOT],
    ["POST /v3/auth/authenticate", OPEN],
    ["POST /v3/auth/status", OPEN],
    ["POST /v3/auth/enable", ROOT],
    ["POST /v3/auth/disable", ROOT],
    ["POST /v3/auth/user/add", ROOT],
    ["POST /v3/auth/user/get", { kind: "self", field: "name" }],
    ["POST /v3/auth/user/list", ROOT],
    ["POST /v3/auth/user/delete", ROOT],
    ["POST /v3/auth/user/changepw", { kind: "self", field: "name" }],
    ["POST /v3/auth/user/grant", ROOT],
    ["POST /v3/auth/user/revoke", ROOT],
    ["POST /v3/auth/role/add", ROOT],
    ["POST /v3/auth/role/get", ROOT],
    ["POST /v3/auth/role/list", ROOT],
    ["POST /v3/auth/role/delete", ROOT],
    ["POST /v3/auth/role/grant", ROOT],
    ["POST /v3/auth/role/revoke", ROOT],
  ];
  return new Map(entries);
}
