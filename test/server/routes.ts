import type { FastifyInstance } from "fastify";

export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
}

/**
 * Every route fastify has registered, read from its own route table
 * (printRoutes), so routes added by any module are included. Call after ready().
 * A route whose URL extends another's is printed as a child holding only the
 * rest ("/v3/maintenance/hash", then "kv" under it), so each line's URL is
 * its parent's plus its own text, the parent found by indentation.
 */
export function registeredRoutes(app: FastifyInstance): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  const urlAtDepth: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split("\n")) {
    const m = /^([\s│├└─]*?)(?:[├└]── )(\S+)(?: \(([A-Z, ]+)\))?\s*$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const url = (depth === 0 ? "" : urlAtDepth[depth - 1]!) + m[2]!;
    urlAtDepth[depth] = url;
    urlAtDepth.length = depth + 1;
    if (m[3] === undefined) continue;
    for (const method of m[3].split(",").map((x) => x.trim())) {
      routes.push({ method, url });
    }
  }
  return routes;
}
