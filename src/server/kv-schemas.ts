import { bytesSchema, int64Schema } from "./wire.js";

/** Request bodies as etcd's JSON gateway spells them (snake_case, base64 bytes). */
export type Int64Json = number | string;

export interface RangeRequestJson {
  key: string;
  range_end?: string;
  limit?: Int64Json;
  revision?: Int64Json;
  sort_order?: "NONE" | "ASCEND" | "DESCEND";
  sort_target?: "KEY" | "VERSION" | "CREATE" | "MOD" | "VALUE";
  serializable?: boolean;
  keys_only?: boolean;
  count_only?: boolean;
  min_mod_revision?: Int64Json;
  max_mod_revision?: Int64Json;
  min_create_revision?: Int64Json;
  max_create_revision?: Int64Json;
}

export interface PutRequestJson {
  key: string;
  value?: string;
  lease?: Int64Json;
  prev_kv?: boolean;
  ignore_value?: boolean;
  ignore_lease?: boolean;
}

export interface DeleteRangeRequestJson {
  key: string;
  range_end?: string;
  prev_kv?: boolean;
}

export interface CompareJson {
  key: string;
  range_end?: string;
  result?: "EQUAL" | "GREATER" | "LESS" | "NOT_EQUAL";
  target?: "VERSION" | "CREATE" | "MOD" | "VALUE" | "LEASE";
  version?: Int64Json;
  create_revision?: Int64Json;
  mod_revision?: Int64Json;
  value?: string;
  lease?: Int64Json;
}

export type RequestOpJson =
  | { request_range: RangeRequestJson }
  | { request_put: PutRequestJson }
  | { request_delete_range: DeleteRangeRequestJson }
  | { request_txn: TxnRequestJson };

export interface TxnRequestJson {
  compare?: CompareJson[];
  success?: RequestOpJson[];
  failure?: RequestOpJson[];
}

export interface CompactionRequestJson {
  revision: Int64Json;
  physical?: boolean;
}

const rangeProps = {
  key: bytesSchema,
  range_end: bytesSchema,
  limit: int64Schema,
  revision: int64Schema,
  sort_order: { enum: ["NONE", "ASCEND", "DESCEND"] },
  sort_target: { enum: ["KEY", "VERSION", "CREATE", "MOD", "VALUE"] },
  serializable: { type: "boolean" },
  keys_only: { type: "boolean" },
  count_only: { type: "boolean" },
  min_mod_revision: int64Schema,
  max_mod_revision: int64Schema,
  min_create_revision: int64Schema,
  max_create_revision: int64Schema,
};

const putProps = {
  key: bytesSchema,
  value: bytesSchema,
  lease: int64Schema,
  prev_kv: { type: "boolean" },
  ignore_value: { type: "boolean" },
  ignore_lease: { type: "boolean" },
};

const deleteProps = {
  key: bytesSchema,
  range_end: bytesSchema,
  prev_kv: { type: "boolean" },
};

const object = (properties: object, required: string[]) => ({
  type: "object",
  properties,
  required,
  additionalProperties: false,
});

export const rangeBodySchema = object(rangeProps, ["key"]);
export const putBodySchema = object(putProps, ["key"]);
export const deleteRangeBodySchema = object(deleteProps, ["key"]);
export const compactionBodySchema = object(
  { revision: int64Schema, physical: { type: "boolean" } },
  ["revision"],
);

/** Self-contained (local $refs only) so nested txns validate recursively. */
export function txnBodySchema(maxOps: number) {
  return {
    $ref: "#/definitions/txn",
    definitions: {
      txn: object(
        {
          compare: { type: "array", maxItems: maxOps, items: { $ref: "#/definitions/compare" } },
          success: { type: "array", maxItems: maxOps, items: { $ref: "#/definitions/op" } },
          failure: { type: "array", maxItems: maxOps, items: { $ref: "#/definitions/op" } },
        },
        [],
      ),
      compare: object(
        {
          key: bytesSchema,
          range_end: bytesSchema,
          result: { enum: ["EQUAL", "GREATER", "LESS", "NOT_EQUAL"] },
          target: { enum: ["VERSION", "CREATE", "MOD", "VALUE", "LEASE"] },
          version: int64Schema,
          create_revision: int64Schema,
          mod_revision: int64Schema,
          value: bytesSchema,
          lease: int64Schema,
        },
        ["key"],
      ),
      op: {
        type: "object",
        minProperties: 1,
        maxProperties: 1,
        additionalProperties: false,
        properties: {
          request_range: object(rangeProps, ["key"]),
          request_put: object(putProps, ["key"]),
          request_delete_range: object(deleteProps, ["key"]),
          request_txn: { $ref: "#/definitions/txn" },
        },
      },
    },
  };
}
