import type { FastifyInstance } from "fastify";
import { HttpApiError } from "./errors.js";

/**
 * The deepest JSON body accepted: objects and arrays inside each other. The
 * deepest request the API means is a txn nested as deep as the store allows
 * (16 levels, three JSON levels each) with an op inside: 49.
 */
export const DEFAULT_MAX_REQUEST_DEPTH = 64;

/** A body nests objects and arrays deeper than the server accepts. */
export class RequestTooDeepError extends HttpApiError {
  readonly maxDepth: number;
  constructor(maxDepth: number) {
    super(
      400,
      "REQUEST_TOO_DEEP",
      `request body nests objects and arrays more than ${maxDepth} levels deep`,
    );
    this.maxDepth = maxDepth;
  }
}

/**
 * Whether `value` nests objects and arrays more than `maxDepth` levels (the
 * body itself is level 1). Iterative, with its own stack: the point is to
 * refuse what would overflow the call stack of a recursive walker (the
 * schema validator, the txn translation) before one runs.
 */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [node, depth] = next;
    // A raw value's bytes (/v3/kv/value) are a leaf, not an object of a million fields.
    if (typeof node !== "object" || node === null || ArrayBuffer.isView(node)) continue;
    if (depth > maxDepth) return true;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** Refuses over-deep bodies after parsing and before schema validation, on every route. */
export function addRequestDepthLimit(app: FastifyInstance, maxDepth: number): void {
  app.addHook("preValidation", async (req) => {
    if (nestsDeeperThan(req.body, maxDepth)) throw new RequestTooDeepError(maxDepth);
  });
}
