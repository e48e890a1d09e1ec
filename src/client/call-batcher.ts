/**
 * Gathers key-space calls made while a member is busy into one request
 * (POST /v3/kv/batch), so a client with many calls in flight pays one HTTP
 * round per batch rather than per call.
 *
 * Nothing waits for company: while fewer than `maxInFlight` requests to an
 * endpoint are unanswered, a call goes out on its own at once, as without
 * batching. Only calls made while all of them are out wait, and leave
 * together as soon as one comes back. Each call keeps its own deadline and
 * gets the answer its own request would have got; the retry loop above sees
 * no difference. A batch the server refuses whole (a body it will not
 * check, a key not allowed, a server without the route) is sent again as
 * single requests: nothing of it ran.
 */
import type { IncomingMessage } from "node:http";
import {
  type AttemptOutcome,
  type AttemptSpec,
  answerLost,
  errorAnswered,
  errorBody,
  notAnswered,
  sendAttempt,
} from "./attempt.js";
import { BadResponseError, ClientClosedError } from "./errors.js";
import type { ClientAgents } from "./http-agents.js";
import { readBody, send } from "./http-request.js";

/** How a call is named in a batch (as in a txn's request ops). */
export type BatchOpName = "request_range" | "request_put" | "request_delete_range";

/** The server's limit on requests per batch. */
export const MAX_BATCH_REQUESTS = 64;
/** JSON bytes of the requests gathered into one batch at most (the server takes 2 MiB by default). */
const MAX_BATCH_BODY_BYTES = 1024 * 1024;
const BATCH_PATH = "/v3/kv/batch";

/**
 * Statuses of a batch refused whole before any of it ran: its calls are
 * sent alone, where each gets the answer meant for it.
 */
const REFUSED_WHOLE = new Set([400, 403, 404, 405, 413, 415]);

type Outcome = AttemptOutcome<unknown>;

interface Waiting {
  readonly op: BatchOpName;
  readonly spec: AttemptSpec<unknown>;
  readonly resolve: (outcome: Outcome) => void;
  readonly reject: (reason: unknown) => void;
  /** False once the call's deadline ended its wait. */
  live: boolean;
  readonly onAbort: () => void;
}

/** The requests to one endpoint with one token: how many are out, and the calls waiting. */
interface Lane {
  inFlight: number;
  readonly waiting: Waiting[];
}

export class CallBatcher {
  private readonly lanes = new Map<string, Lane>();
  /** Endpoints that answered 404 to a batch: a server without the route. */
  private readonly unbatched = new Set<string>();
  private closed = false;

  constructor(
    private readonly agents: ClientAgents,
    /** Requests out to one endpoint before calls wait to be batched (≥ 1). */
    private readonly maxInFlight: number,
  ) {}

  /** One attempt of a call that may share a request: its outcome as if sent alone. */
  send(op: BatchOpName, spec: AttemptSpec<unknown>): Promise<Outcome> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    // A raw value (bytes, not JSON) is never part of a batch's JSON text.
    if (this.unbatched.has(spec.endpoint) || typeof spec.body !== "string") {
      return sendAttempt(this.agents, spec);
    }
    const key = `${spec.endpoint}\n${spec.token ?? ""}`;
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { inFlight: 0, waiting: [] };
      this.lanes.set(key, lane);
    }
    if (lane.inFlight < this.maxInFlight && lane.waiting.length === 0) {
      lane.inFlight++;
      return this.settle(key, lane, sendAttempt(this.agents, spec));
    }
    return new Promise<Outcome>((resolve, reject) => {
      const waiting: Waiting = {
        op,
        spec,
        resolve,
        reject,
        live: true,
        onAbort: () => {
          waiting.live = false;
          reject(spec.deadline.signal.reason);
        },
      };
      if (spec.deadline.signal.aborted) {
        waiting.onAbort();
        return;
      }
      spec.deadline.signal.addEventListener("abort", waiting.onAbort, { once: true });
      lane.waiting.push(waiting);
    });
  }

  /** The client closed: the calls waiting fail with ClientClosedError and nothing more goes out. */
  close(): void {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      for (const w of lane.waiting.splice(0)) settleWith(w, new ClientClosedError());
    }
    this.lanes.clear();
  }

  /** `request`'s outcome; once it is in, the lane's next calls go out. */
  private settle<T>(key: string, lane: Lane, request: Promise<T>): Promise<T> {
    return request.finally(() => {
      lane.inFlight--;
      this.next(key, lane);
    });
  }

  private next(key: string, lane: Lane): void {
    if (this.closed) return;
    while (lane.inFlight < this.maxInFlight && lane.waiting.length > 0) {
      const batch = takeBatch(lane.waiting);
      if (batch.length === 0) continue;
      lane.inFlight++;
      void this.settle(key, lane, this.sendBatch(batch));
    }
    if (lane.inFlight === 0 && lane.waiting.length === 0) this.lanes.delete(key);
  }

  /** Sends `batch` as one request (or alone, if only one is left) and settles each call. */
  private async sendBatch(batch: Waiting[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [Waiting];
      await forward(only, sendAttempt(this.agents, only.spec));
      return;
    }
    const { endpoint, token, maxResponseBytes } = batch[0]!.spec;
    // The request ends early only when no call waits for it any more.
    const abort = new AbortController();
    let live = batch.length;
    const onGone = () => {
      if (--live === 0) abort.abort();
    };
    for (const w of batch) w.spec.deadline.signal.addEventListener("abort", onGone, { once: true });
    try {
      const origin = this.agents.origin(endpoint);
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (token !== undefined) headers["authorization"] = token;
      let response: IncomingMessage;
      try {
        response = await send({
          origin,
          path: BATCH_PATH,
          agent: this.agents.pooled(origin),
          headers,
          body: batchBody(batch),
          signal: abort.signal,
        });
      } catch (error) {
        this.each(batch, notAnswered(endpoint, error));
        return;
      }
      const status = response.statusCode ?? 0;
      if (REFUSED_WHOLE.has(status)) {
        response.destroy();
        if (status === 404) this.unbatched.add(endpoint);
        await Promise.all(
          batch.filter((w) => w.live).map((w) => forward(w, sendAttempt(this.agents, w.spec))),
        );
        return;
      }
      let text: string;
      try {
        // Each call accepts an answer of up to maxResponseBytes: together, that many times as much.
        text = (await readBody(response, maxResponseBytes * batch.length)).toString("utf8");
      } catch (error) {
        if (error instanceof BadResponseError) for (const w of batch) settleWith(w, error);
        else this.each(batch, answerLost(endpoint, error));
        return;
      }
      if (status < 200 || status >= 300) {
        // Refused by a hook before any request ran (auth, overload): each call is told so.
        const retryAfter = headerText(response.headers["retry-after"]);
        const { errorFromServer } = batch[0]!.spec;
        this.each(batch, errorAnswered(errorFromServer, errorBody(text), status, retryAfter));
        return;
      }
      const answers = batchAnswers(text, batch.length, status);
      if (answers instanceof BadResponseError) {
        for (const w of batch) settleWith(w, answers);
        return;
      }
      batch.forEach((w, i) => {
        const { status: s, body } = answers[i]!;
        if (s >= 200 && s < 300) {
          settleWith(w, { ok: true, value: body, headers: response.headers });
          return;
        }
        settleWith(w, errorAnswered(w.spec.errorFromServer, body, s));
      });
    } finally {
      for (const w of batch) w.spec.deadline.signal.removeEventListener("abort", onGone);
    }
  }

  private each(batch: readonly Waiting[], outcome: Outcome): void {
    for (const w of batch) settleWith(w, outcome);
  }
}

/** The first waiting calls that fit one batch, taken off the queue; calls already given up are dropped. */
function takeBatch(waiting: Waiting[]): Waiting[] {
  const batch: Waiting[] = [];
  let bytes = 0;
  while (waiting.length > 0 && batch.length < MAX_BATCH_REQUESTS) {
    const w = waiting[0]!;
    if (!w.live) {
      waiting.shift();
      continue;
    }
    const size = (w.spec.body?.length ?? 0) + 64;
    if (batch.length > 0 && bytes + size > MAX_BATCH_BODY_BYTES) break;
    waiting.shift();
    batch.push(w);
    bytes += size;
  }
  return batch;
}

/** The batch's JSON text, made from each call's own JSON body. */
function batchBody(batch: readonly Waiting[]): string {
  const parts = batch.map((w) => {
    const id =
      w.spec.idempotencyKey === undefined ? "" : `,"request_id":"${w.spec.idempotencyKey}"`;
    return `{"${w.op}":${w.spec.body ?? "{}"}${id}}`;
  });
  return `{"requests":[${parts.join(",")}]}`;
}

interface Answer {
  readonly status: number;
  readonly body: object;
}

/** The answers of a batch of `count`, checked; a BadResponseError when they are not what was asked. */
function batchAnswers(text: string, count: number, status: number): Answer[] | BadResponseError {
  const bad = (why: string) => new BadResponseError(`the batch answer ${why}`, status);
  const parsed = jsonObject(text);
  const responses = (parsed as { responses?: unknown } | undefined)?.responses;
  if (!Array.isArray(responses)) return bad("has no responses list");
  if (responses.length !== count) {
    return bad(`has ${responses.length} answers for ${count} requests`);
  }
  for (const r of responses as unknown[]) {
    const answer = r as Partial<Answer> | null;
    if (
      typeof answer !== "object" ||
      answer === null ||
      !Number.isInteger(answer.status) ||
      typeof answer.body !== "object" ||
      answer.body === null
    ) {
      return bad("holds an answer without a status and a body");
    }
  }
  return responses as Answer[];
}

function jsonObject(text: string): object | undefined {
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === "object" && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Settles a call with `outcome` (an error rejects it), unless its deadline ended it first. */
function settleWith(w: Waiting, outcome: Outcome | Error): void {
  if (!w.live) return;
  w.live = false;
  w.spec.deadline.signal.removeEventListener("abort", w.onAbort);
  if (outcome instanceof Error) w.reject(outcome);
  else w.resolve(outcome);
}

/** Settles a call with what its own attempt came to. */
async function forward(w: Waiting, attempt: Promise<Outcome>): Promise<void> {
  try {
    settleWith(w, await attempt);
  } catch (error) {
    settleWith(w, error as Error);
  }
}
