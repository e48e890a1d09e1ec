/**
 * `conclave get` over a range: a member answers at most its byte budget of
 * keys and values at a time, so a range in key order is read page by page
 * (all pages at the first one's revision) and printed as it arrives.
 */
import { rangePages } from "../../client/index.js";
import type {
  CallOptions,
  CliClient,
  KeyValueView,
  RangeRequest,
  RangeResult,
} from "../client-port.js";
import { kvJson, kvLines, type Output } from "../output.js";

/** True when the request covers many keys in ascending key order, so it can be continued by key. */
export function isPageable(request: RangeRequest): boolean {
  const covers = request.prefix === true || request.rangeEnd !== undefined;
  const keyOrder =
    (request.sortTarget ?? "key") === "key" && (request.sortOrder ?? "none") !== "descend";
  return covers && keyOrder && request.countOnly !== true;
}

/** Prints every key of the range (at most `limit` in all); JSON output is one document. */
export async function printRangePaged(
  out: Output,
  client: Pick<CliClient, "range">,
  request: RangeRequest,
  call: CallOptions,
): Promise<void> {
  const limit = request.limit ?? 0;
  const keysOnly = request.keysOnly === true;
  const collected: KeyValueView[] = [];
  let first: RangeResult | undefined;
  let shown = 0;
  const pages = rangePages<KeyValueView, RangeResult>(
    (r) => client.range({ ...r, ...call }),
    request,
  );
  for await (const page of pages) {
    first ??= page;
    const kvs = limit > 0 ? page.kvs.slice(0, limit - shown) : page.kvs;
    shown += kvs.length;
    if (out.json) collected.push(...kvs);
    else for (const kv of kvs) out.write(kvLines(kv, keysOnly));
    if (limit > 0 && shown >= limit) break;
  }
  if (out.json && first !== undefined) {
    out.writeJson({
      revision: first.revision,
      count: first.count,
      more: shown < first.count,
      kvs: collected.map(kvJson),
    });
  }
}
