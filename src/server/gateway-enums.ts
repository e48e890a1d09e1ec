import type { FastifyInstance } from "fastify";

/**
 * etcd's enums by field name, as the JSON gateway reads them: a client may
 * send an enum by name or by number (Python's etcd3gw sends `"sort_order":
 * 0`). Every field here has one enum type wherever etcd's request messages
 * use it.
 */
const ENUMS: Readonly<Record<string, readonly string[]>> = {
  sort_order: ["NONE", "ASCEND", "DESCEND"],
  sort_target: ["KEY", "VERSION", "CREATE", "MOD", "VALUE"],
  result: ["EQUAL", "GREATER", "LESS", "NOT_EQUAL"],
  target: ["VERSION", "CREATE", "MOD", "VALUE", "LEASE"],
  filters: ["NOPUT", "NODELETE"],
  permType: ["READ", "WRITE", "READWRITE"],
  action: ["GET", "ACTIVATE", "DEACTIVATE"],
  alarm: ["NONE", "NOSPACE", "CORRUPT"],
};

function name(field: string, value: unknown): unknown {
  const names = ENUMS[field];
  // A number etcd has no name for is left alone: validation refuses it with its message.
  return names !== undefined && typeof value === "number" ? (names[value] ?? value) : value;
}

/** Replaces enum numbers by their names throughout a request body, in place. */
export function nameEnums(body: unknown): void {
  if (Array.isArray(body)) {
    for (const item of body) nameEnums(item);
    return;
  }
  // A raw value's bytes (/v3/kv/value) are not JSON: nothing to name.
  if (typeof body !== "object" || body === null || ArrayBuffer.isView(body)) return;
  const fields = body as Record<string, unknown>;
  for (const [field, value] of Object.entries(fields)) {
    if (Array.isArray(value) && field === "filters")
      fields[field] = value.map((v) => name(field, v));
    else if (typeof value === "number") fields[field] = name(field, value);
    else nameEnums(value);
  }
}

/**
 * Before validation, so the schemas (which name enums) see what etcd's
 * gateway would have accepted. Runs after the request depth check, which
 * bounds the walk.
 */
export function addGatewayEnumNames(app: FastifyInstance): void {
  app.addHook("preValidation", async (req) => {
    nameEnums(req.body);
  });
}
