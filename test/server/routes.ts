import type { FastifyInstance } from "fastify";

export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
}

/**
 * Every route fastify has registered, read from its own route table
 * (printRoutes), so routes added by any module are included. Call after ready().
 */
export function registeredRoutes(app: FastifyInstance): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split("\n")) {
    const m = /(\/\S*) \(([A-Z, ]+)\)\s*$/.exec(line);
    if (!m) continue;
    for (const method of m[2]!.split(",").map((x) => x.trim())) {
      routes.push({ method, url: m[1]! });
    }
  }
  return routes;
}
