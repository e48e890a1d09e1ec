import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type TestCluster } from "./cluster.js";
import { registeredRoutes } from "./routes.js";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster.stop();
});

interface Operation {
  responses?: Record<string, unknown>;
  requestBody?: { content?: Record<string, { schema?: Record<string, unknown> }> };
}
interface OpenApiDocument {
  openapi?: unknown;
  info?: { title?: unknown; version?: unknown };
  paths?: Record<string, Record<string, Operation>>;
}

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);
/** fastify's `/a/:id` is OpenAPI's `/a/{id}`. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3 document listing exactly the registered routes", async () => {
    const app = cluster.members[0]!.app;
    const res = await app.inject({ method: "GET", url: "/openapi.json" });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as OpenApiDocument;
    expect(String(doc.openapi)).toMatch(/^3\.\d+\.\d+$/);
    expect(typeof doc.info?.title).toBe("string");
    expect(typeof doc.info?.version).toBe("string");
    expect(typeof doc.paths).toBe("object");

    const documented = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths!)) {
      expect(path.startsWith("/"), path).toBe(true);
      for (const [method, op] of Object.entries(item)) {
        expect(HTTP_METHODS.has(method), `${method} ${path}`).toBe(true);
        expect(typeof op.responses, `${method} ${path} responses`).toBe("object");
        documented.add(`${method.toUpperCase()} ${path}`);
      }
    }
    // HEAD is fastify's automatic twin of every GET; OpenAPI leaves it implied.
    const registered = new Set(
      registeredRoutes(app)
        .filter((r) => r.method !== "HEAD")
        .map((r) => `${r.method} ${openApiPath(r.url)}`),
    );
    expect(registered.size).toBeGreaterThan(10);
    expect([...documented].sort()).toEqual([...registered].sort());
    for (const route of ["POST /v3/kv/put", "GET /metrics", "GET /openapi.json"]) {
      expect(registered.has(route), route).toBe(true);
    }
  });

  it("carries each route's request schema", async () => {
    const app = cluster.members[0]!.app;
    const doc = (await app.inject({ method: "GET", url: "/openapi.json" })).json();
    const put = doc.paths["/v3/kv/put"].post as Operation;
    const schema = put.requestBody?.content?.["application/json"]?.schema as {
      properties?: Record<string, unknown>;
      required?: string[];
    };
    expect(Object.keys(schema.properties ?? {})).toEqual(
      expect.arrayContaining(["key", "value", "lease", "prev_kv"]),
    );
    expect(schema.required).toEqual(["key"]);
  });
});
