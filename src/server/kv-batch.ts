/**
 * POST /v3/kv/batch: many independent key-space requests in one HTTP request,
 * each answered as if it had been sent alone. The SDK gathers calls made
 * while its connections to a member are busy into one (see the client's
 * CallBatcher), so a busy client pays the HTTP round once per batch rather
 * than once per call.
 *
 * The requests of a batch are concurrent: no order among them is promised.
 * Each write is its own proposal (its own revision), with its own request id;
 * each answer carries its own status and body, the ones its route alone
 * would have given. The whole batch is refused, before any of it runs, only
 * for what is checked at the boundary (the body's shape, access to every key
 * it names); a client then sends the requests alone.
 *
 * What a batch may carry is bounded so one does not answer more than one
 * request could: writes answer without previous values (prev_kv is for the
 * single routes), and the ranges of one batch share one answer budget
 * (`maxRangeBytes`); a range past it is not run and answers
 * BATCH_BUDGET_SPENT (503), to be sent alone.
 */
import type { FastifyInstance } from "fastify";
import { commandAccess, type KeyAccess } from "../auth/index.js";
import {
  type DeleteRangeCommand,
  type KvStore,
  type PutCommand,
  type RangeCommand,
  REQUEST_ID_PATTERN,
} from "../kv/index.js";
import { invariant } from "../raft/core/errors.js";
import { errorReply, isServerFault } from "./error-reply.js";
import { BadRequestError, HttpApiError } from "./errors.js";
import type { KvAccess } from "./kv-access.js";
import {
  type DeleteRangeRequestJson,
  deleteRangeBodySchema,
  type PutRequestJson,
  putBodySchema,
  type RangeRequestJson,
  rangeBodySchema,
} from "./kv-schemas.js";
import {
  deleteRangeCommand,
  deleteRangeJson,
  putCommand,
  putJson,
  rangeCommand,
  rangeJson,
} from "./kv-translate.js";
import type { ServerMetrics } from "./metrics.js";
import type { ServerLimits } from "./options.js";

/** Requests one batch may carry. */
export const MAX_BATCH_REQUESTS = 64;

export interface BatchRequestOpJson {
  request_range?: RangeRequestJson;
  request_put?: PutRequestJson;
  request_delete_range?: DeleteRangeRequestJson;
  /** The write's idempotency key, as the idempotency-key header of a single request. */
  request_id?: string;
}

export interface BatchRequestJson {
  requests: BatchRequestOpJson[];
}

/** One request's answer: the status and body its own route would have answered. */
export interface BatchAnswerJson {
  status: number;
  body: object;
}

const OP_NAMES = ["request_range", "request_put", "request_delete_range"] as const;

export const batchBodySchema = {
  type: "object",
  properties: {
    requests: {
      type: "array",
      minItems: 1,
      maxItems: MAX_BATCH_REQUESTS,
      items: {
        type: "object",
        properties: {
          request_range: rangeBodySchema,
          request_put: putBodySchema,
          request_delete_range: deleteRangeBodySchema,
          request_id: { type: "string", pattern: REQUEST_ID_PATTERN.source },
        },
        additionalProperties: false,
        // Exactly one request per item.
        oneOf: OP_NAMES.map((name) => ({ required: [name] })),
      },
    },
  },
  required: ["requests"],
  additionalProperties: false,
};

/** A range not run because the batch's ranges already answered their share of bytes. */
export class BatchBudgetSpentError extends HttpApiError {
  constructor(maxBytes: number) {
    super(
      503,
      "BATCH_BUDGET_SPENT",
      `the ranges of this batch already answer ${maxBytes} bytes; send this one alone`,
    );
  }
}

type BatchCommand = RangeCommand | PutCommand | DeleteRangeCommand;

/** The request's command, checked as its own route checks it. */
function batchCommand(op: BatchRequestOpJson, index: number, limits: ServerLimits): BatchCommand {
  const at = `requests[${index}].`;
  if (op.request_range !== undefined) {
    return rangeCommand(op.request_range, limits, `${at}request_range.`);
  }
  let command: PutCommand | DeleteRangeCommand;
  if (op.request_put !== undefined) {
    command = putCommand(op.request_put, limits, `${at}request_put.`);
  } else {
    // The schema lets through exactly one of the three.
    invariant(op.request_delete_range !== undefined, "a batched request names no request");
    command = deleteRangeCommand(op.request_delete_range, limits, `${at}request_delete_range.`);
  }
  if (command.prevKv) {
    throw new BadRequestError(`${at}: prev_kv is answered only by the request sent alone`);
  }
  return command;
}

/** Every key the batch names, for the access check: all of them or none. */
export function batchAccess(body: BatchRequestJson, limits: ServerLimits): KeyAccess[] {
  return body.requests.flatMap((op, i) => commandAccess(batchCommand(op, i, limits)));
}

interface PendingRange {
  readonly index: number;
  readonly command: RangeCommand;
}

export function registerKvBatchRoute(
  app: FastifyInstance,
  kv: KvAccess,
  limits: ServerLimits,
  leaderUrls: { get(id: number): string | undefined },
  metrics: Pick<ServerMetrics, "batchArrived">,
): void {
  const failed = (err: unknown): BatchAnswerJson => {
    const { statusCode, body } = errorReply(err, leaderUrls);
    if (isServerFault(statusCode)) {
      app.log.error({ err }, "batched request failed");
    }
    return { status: statusCode, body };
  };

  app.post<{ Body: BatchRequestJson }>(
    "/v3/kv/batch",
    { schema: { body: batchBodySchema } },
    async (req) => {
      const { requests } = req.body;
      metrics.batchArrived(requests.length);
      const answers: BatchAnswerJson[] = new Array(requests.length);
      const work: Promise<void>[] = [];
      const linearizable: PendingRange[] = [];
      const serializable: PendingRange[] = [];
      // One answer budget for every range of the batch, spent in request order.
      let rangeBytes = 0;
      const runRanges = (store: KvStore, ranges: readonly PendingRange[]) => {
        for (const { index, command } of ranges) {
          if (rangeBytes >= limits.maxRangeBytes) {
            answers[index] = failed(new BatchBudgetSpentError(limits.maxRangeBytes));
            continue;
          }
          try {
            const result = store.range(command, { maxBytes: limits.maxRangeBytes });
            for (const kv of result.kvs) rangeBytes += kv.key.byteLength + kv.value.byteLength;
            answers[index] = { status: 200, body: rangeJson(result) };
          } catch (err) {
            answers[index] = failed(err);
          }
        }
      };
      const readAll = (ranges: PendingRange[], isSerializable: boolean) => {
        if (ranges.length === 0) return;
        work.push(
          kv
            .read(isSerializable, (store) => runRanges(store, ranges))
            .catch((err: unknown) => {
              for (const { index } of ranges) answers[index] = failed(err);
            }),
        );
      };
      requests.forEach((op, index) => {
        let command: BatchCommand;
        try {
          command = batchCommand(op, index, limits);
        } catch (err) {
          answers[index] = failed(err);
          return;
        }
        if (command.type === "range") {
          const pending = { index, command };
          if (op.request_range?.serializable === true) serializable.push(pending);
          else linearizable.push(pending);
          return;
        }
        const headers = op.request_id === undefined ? {} : { "idempotency-key": op.request_id };
        const written =
          command.type === "put"
            ? kv.write(command, { headers }).then(putJson)
            : kv.write(command, { headers }).then(deleteRangeJson);
        work.push(
          written.then(
            (body) => {
              answers[index] = { status: 200, body };
            },
            (err: unknown) => {
              answers[index] = failed(err);
            },
          ),
        );
      });
      readAll(serializable, true);
      readAll(linearizable, false);
      await Promise.all(work);
      return { responses: answers };
    },
  );
}
