import type { FastifyInstance } from "fastify";
import { HttpApiError } from "./errors.js";

/** A body of a type this API does not read (as fastify's own refusal, with this API's shape). */
export class UnsupportedMediaTypeError extends HttpApiError {
  constructor(message: string) {
    super(415, "UNSUPPORTED_MEDIA_TYPE", message);
  }
}

/**
 * etcd's gateway reads a body as JSON whatever its content type, and some
 * of its clients send none (Python's etcd3gw, for txns). A body without a
 * content type is read as JSON here too, but only from a client that is not
 * a browser (no Origin header): a page on another site can send a POST
 * without a content type and without asking first, and must not reach the
 * API that way. Every other type but JSON is refused, as before.
 */
export function addTypelessJsonBodies(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("*", { parseAs: "string" }, (req, body, done) => {
    const type = req.headers["content-type"];
    if (type !== undefined || req.headers.origin !== undefined) {
      const named = JSON.stringify((type ?? "(none, from a browser)").slice(0, 100));
      done(
        new UnsupportedMediaTypeError(
          `content-type ${named} is not accepted; send application/json`,
        ),
        undefined,
      );
      return;
    }
    json(req, body as string, done);
  });
}
