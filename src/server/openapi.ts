import { readFileSync } from "node:fs";
import { fastifySwagger } from "@fastify/swagger";
import type { FastifyInstance } from "fastify";

/**
 * Installs the OpenAPI generator and `GET /openapi.json`. It must run before
 * any route is added: the generator learns routes from fastify's onRoute hook.
 * The plugin is invoked directly instead of through `register`, because a
 * registered plugin loads only at `ready`, after createServer has added its
 * routes synchronously; being wrapped with fastify-plugin, it is not
 * encapsulated either way, so the direct call is equivalent.
 */
export function registerOpenApi(app: FastifyInstance, version = packageVersion()): void {
  fastifySwagger(
    app,
    {
      openapi: {
        openapi: "3.0.3",
        info: {
          title: "Conclave client API",
          description: "etcd v3 JSON-gateway-style key space, leases and node operations.",
          version,
        },
      },
    },
    (err) => {
      if (err) throw err;
    },
  );
  app.get("/openapi.json", { schema: { summary: "This OpenAPI document" } }, async () =>
    app.swagger(),
  );
}

/** The package's version, from src/ and dist/ alike; the document stays valid without it. */
function packageVersion(): string {
  try {
    const url = new URL("../../package.json", import.meta.url);
    const pkg = JSON.parse(readFileSync(url, "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}
