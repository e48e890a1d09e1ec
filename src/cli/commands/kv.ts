/** `conclave put`, `get` and `del`. */
import type { DeleteResult, PutResult, RangeResult } from "../client-port.js";
import type { CommandDef } from "../command.js";
import { kvJson, kvLines, type Output } from "../output.js";
import {
  deleteOptions,
  delSpec,
  getSpec,
  putOptions,
  putSpec,
  rangeRequest,
} from "./kv-requests.js";
import { isPageable, printRangePaged } from "./range-paged.js";

export function printPut(out: Output, result: PutResult): void {
  if (out.json) {
    out.writeJson({
      revision: result.revision,
      ...(result.prevKv !== undefined && { prevKv: kvJson(result.prevKv) }),
    });
    return;
  }
  out.write("OK\n");
  if (result.prevKv !== undefined) out.write(kvLines(result.prevKv));
}

export function printRange(
  out: Output,
  result: RangeResult,
  keysOnly = false,
  countOnly = false,
): void {
  if (out.json) {
    out.writeJson({
      revision: result.revision,
      count: result.count,
      more: result.more,
      kvs: result.kvs.map(kvJson),
    });
    return;
  }
  if (countOnly) {
    out.write(`${result.count}\n`);
    return;
  }
  for (const kv of result.kvs) out.write(kvLines(kv, keysOnly));
}

export function printDelete(out: Output, result: DeleteResult): void {
  if (out.json) {
    out.writeJson({
      revision: result.revision,
      deleted: result.deleted,
      prevKvs: result.prevKvs.map(kvJson),
    });
    return;
  }
  out.write(`${result.deleted}\n`);
  for (const kv of result.prevKvs) out.write(kvLines(kv));
}

export const putCommand: CommandDef = {
  spec: putSpec,
  async run(ctx, [key = "", value = ""], flags) {
    const options = putOptions(flags);
    printPut(ctx.out, await ctx.client().put(key, value, { ...options, ...ctx.call }));
    return 0;
  },
};

export const getCommand: CommandDef = {
  spec: getSpec,
  async run(ctx, [key = ""], flags) {
    const request = rangeRequest(key, flags);
    if (isPageable(request)) {
      await printRangePaged(ctx.out, ctx.client(), request, ctx.call);
      return 0;
    }
    const result = await ctx.client().range({ ...request, ...ctx.call });
    printRange(ctx.out, result, request.keysOnly === true, request.countOnly === true);
    return 0;
  },
};

export const delCommand: CommandDef = {
  spec: delSpec,
  async run(ctx, [key = ""], flags) {
    const options = deleteOptions(flags);
    printDelete(ctx.out, await ctx.client().delete(key, { ...options, ...ctx.call }));
    return 0;
  },
};
