/**
 * POST /v3/kv/value?key=<base64>[&lease=<id>]: a put whose value is the
 * request body itself (application/octet-stream), not base64 text inside a
 * JSON body. A member reads a megabyte value as a megabyte: no text of a
 * third more to decode, parse and then turn back into bytes. The SDK sends
 * big values this way (see the client's `rawValueBytes`). The answer, the
 * request id (idempotency-key header), the access a user needs and every
 * refusal are /v3/kv/put's; prev_kv, ignore_value and ignore_lease are for
 * the JSON route.
 */
import type { FastifyInstance } from "fastify";
import type { PutCommand } from "../kv/index.js";
import { TooLargeError } from "./errors.js";
import { UnsupportedMediaTypeError } from "./gateway-body.js";
import type { KvAccess } from "./kv-access.js";
import type { Int64Json } from "./kv-schemas.js";
import { putJson } from "./kv-translate.js";
import type { ServerLimits } from "./options.js";
import { bytesSchema, decodeKey, int64Schema, parseInt64 } from "./wire.js";

export const VALUE_ROUTE = "/v3/kv/value";
export const VALUE_CONTENT_TYPE = "application/octet-stream";

export interface ValueQueryJson {
  key: string;
  lease?: Int64Json;
}

const valueQuerySchema = {
  type: "object",
  properties: { key: bytesSchema, lease: int64Schema },
  required: ["key"],
  additionalProperties: false,
} as const;

/** The put a request to the route stands for; throws the refusal /v3/kv/put would answer. */
export function valuePutCommand(
  query: ValueQueryJson,
  body: unknown,
  limits: ServerLimits,
): PutCommand {
  const key = decodeKey(query.key, "key", limits);
  if (!(body instanceof Uint8Array)) {
    throw new UnsupportedMediaTypeError(`${VALUE_ROUTE} reads the value as ${VALUE_CONTENT_TYPE}`);
  }
  if (body.byteLength > limits.maxValueBytes) {
    throw new TooLargeError(
      "VALUE_TOO_LARGE",
      `value is ${body.byteLength} bytes; the limit is ${limits.maxValueBytes}`,
    );
  }
  return { type: "put", key, value: body, lease: parseInt64(query.lease, "lease") };
}

export function registerKvValueRoute(
  app: FastifyInstance,
  kv: KvAccess,
  limits: ServerLimits,
): void {
  // A scope of its own: raw bodies are read on this route only; every other
  // route still refuses them (415).
  void app.register(async (scope) => {
    scope.addContentTypeParser(VALUE_CONTENT_TYPE, { parseAs: "buffer" }, (_req, body, done) =>
      done(null, body),
    );
    scope.post<{ Querystring: ValueQueryJson }>(
      VALUE_ROUTE,
      { schema: { querystring: valueQuerySchema } },
      async (req) => putJson(await kv.write(valuePutCommand(req.query, req.body, limits), req)),
    );
  });
}
