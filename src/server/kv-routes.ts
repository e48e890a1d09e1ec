import type { FastifyInstance } from "fastify";
import type { KvAccess } from "./kv-access.js";
import {
  type CompactionRequestJson,
  compactionBodySchema,
  type DeleteRangeRequestJson,
  deleteRangeBodySchema,
  type PutRequestJson,
  putBodySchema,
  type RangeRequestJson,
  rangeBodySchema,
  type TxnRequestJson,
  txnBodySchema,
} from "./kv-schemas.js";
import {
  deleteRangeCommand,
  deleteRangeJson,
  putCommand,
  putJson,
  rangeCommand,
  rangeJson,
  txnCommand,
  txnJson,
} from "./kv-translate.js";
import type { ServerLimits } from "./options.js";
import { header, parseInt64 } from "./wire.js";

export function registerKvRoutes(app: FastifyInstance, kv: KvAccess, limits: ServerLimits): void {
  app.post<{ Body: RangeRequestJson }>(
    "/v3/kv/range",
    { schema: { body: rangeBodySchema } },
    async (req) => {
      const command = rangeCommand(req.body, limits);
      const result = await kv.read(req.body.serializable ?? false, (s) =>
        s.range(command, { maxBytes: limits.maxRangeBytes }),
      );
      return rangeJson(result);
    },
  );

  app.post<{ Body: PutRequestJson }>(
    "/v3/kv/put",
    { schema: { body: putBodySchema } },
    async (req) => putJson(await kv.write(putCommand(req.body, limits), req)),
  );

  app.post<{ Body: DeleteRangeRequestJson }>(
    "/v3/kv/deleterange",
    { schema: { body: deleteRangeBodySchema } },
    async (req) => deleteRangeJson(await kv.write(deleteRangeCommand(req.body, limits), req)),
  );

  app.post<{ Body: TxnRequestJson }>(
    "/v3/kv/txn",
    { schema: { body: txnBodySchema(limits.maxTxnOps) } },
    async (req) => txnJson(await kv.write(txnCommand(req.body, limits), req)),
  );

  app.post<{ Body: CompactionRequestJson }>(
    "/v3/kv/compaction",
    { schema: { body: compactionBodySchema } },
    async (req) => {
      const revision = parseInt64(req.body.revision, "revision");
      const result = await kv.write({ type: "compact", revision }, req);
      return { header: header(result.revision) };
    },
  );
}
