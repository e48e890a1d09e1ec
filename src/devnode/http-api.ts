import { randomInt } from "node:crypto";
import http from "node:http";
import { ConclaveError } from "../errors.js";
import { NotLeaderError } from "../raft/core/index.js";
import type { RaftNode } from "../raft/node/index.js";
import type { KvInput, KvOutput } from "../sim/kv.js";
import { encodeCommand } from "../sim/kv.js";

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_KEY_BYTES = 1024;

class HttpError extends ConclaveError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
  }
}

function statusFor(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (!(err instanceof ConclaveError)) return 500;
  switch (err.code) {
    case "NOT_LEADER":
      return 421;
    case "TIMEOUT":
      return 504;
    case "INVALID_ARGUMENT":
    case "INVALID_CONF_CHANGE":
      return 400;
    case "CONF_CHANGE_PENDING":
    case "PROPOSAL_DROPPED":
    case "TOO_MANY_UNCOMMITTED":
      return 503;
    case "NODE_STOPPED":
    case "NODE_FAILED":
      return 503;
    default:
      return 500;
  }
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, "BODY_TOO_LARGE", `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === "object" && v !== null && !Array.isArray(v))
      return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, "INVALID_ARGUMENT", "request body must be a JSON object");
}

function positiveInt(v: unknown, name: string): number {
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0) {
    throw new HttpError(400, "INVALID_ARGUMENT", `${name} must be a positive integer`);
  }
  return n;
}

/**
 * The development node's client API over plain HTTP/JSON: a replicated
 * key-value map with linearizable reads and exactly-once retries
 * (`?client=&seq=`), plus membership and status. Every error is
 * `{ code, message }` with a matching status (421 + `leader` for NotLeader).
 */
export function createKvHttpServer(
  node: RaftNode<KvOutput>,
  kv: { get(key: string): string | null },
): http.Server {
  const session = { client: randomInt(1, 2 ** 40), seq: 0 };

  const write = async (input: KvInput, url: URL): Promise<KvOutput> => {
    const client = url.searchParams.has("client")
      ? positiveInt(url.searchParams.get("client"), "client")
      : session.client;
    const seq = url.searchParams.has("seq")
      ? positiveInt(url.searchParams.get("seq"), "seq")
      : ++session.seq;
    return node.propose(encodeCommand({ client, seq, input }));
  };

  const route = async (req: http.IncomingMessage, url: URL): Promise<unknown> => {
    const parts = url.pathname.split("/").filter(Boolean);
    if (parts[0] === "kv" && parts.length === 2) {
      const key = decodeURIComponent(parts[1]!);
      if (Buffer.byteLength(key) > MAX_KEY_BYTES)
        throw new HttpError(400, "INVALID_ARGUMENT", "key too long");
      switch (req.method) {
        case "GET": {
          if (url.searchParams.get("consistency") !== "serializable") await node.linearizableRead();
          return { key, value: kv.get(key) };
        }
        case "PUT":
          return write({ op: "put", key, value: await readBody(req) }, url);
        case "DELETE":
          return write({ op: "delete", key }, url);
        case "POST": {
          const body = parseJson(await readBody(req));
          if (
            typeof body.value !== "string" ||
            (body.expected !== null && typeof body.expected !== "string")
          ) {
            throw new HttpError(
              400,
              "INVALID_ARGUMENT",
              "cas needs { expected: string | null, value: string }",
            );
          }
          return write(
            { op: "cas", key, expected: body.expected as string | null, value: body.value },
            url,
          );
        }
      }
    }
    if (parts[0] === "status" && req.method === "GET") return node.status();
    if (parts[0] === "members" && req.method === "POST" && parts.length === 1) {
      const body = parseJson(await readBody(req));
      const id = positiveInt(body.id, "id");
      if (typeof body.address !== "string")
        throw new HttpError(400, "INVALID_ARGUMENT", "address must be a string");
      return body.learner === true
        ? node.addLearner(id, body.address)
        : node.addVoter(id, body.address);
    }
    if (parts[0] === "members" && req.method === "DELETE" && parts.length === 2) {
      return node.removeMember(positiveInt(parts[1], "member id"));
    }
    if (parts[0] === "transfer" && req.method === "POST") {
      const body = parseJson(await readBody(req));
      await node.transferLeadership(positiveInt(body.to, "to"));
      return { ok: true };
    }
    throw new HttpError(404, "NOT_FOUND", `no route for ${req.method} ${url.pathname}`);
  };

  return http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    route(req, url).then(
      (body) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      },
      (err: unknown) => {
        const status = statusFor(err);
        const e = err as Error;
        const payload: Record<string, unknown> = {
          code: err instanceof ConclaveError ? err.code : "INTERNAL",
          message: e?.message ?? String(err),
        };
        if (err instanceof NotLeaderError) payload.leader = err.leaderHint;
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(payload));
      },
    );
  });
}
