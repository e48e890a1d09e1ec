import { prefixEnd, rangeStart, toBytes } from "./bytes.js";
import { BadResponseError, ClientError } from "./errors.js";
import type { RangeRequest } from "./kv-types.js";

/** What paging reads of a page: the SDK's RangeResult, or a structural view of it. */
export interface RangePage<KV> {
  readonly revision: number;
  readonly kvs: readonly KV[];
  readonly more: boolean;
  readonly nextKey?: Uint8Array;
}

/**
 * A server answers a range with at most its byte budget of keys and values
 * and says where to continue (`more`, `nextKey`). This asks page after page,
 * lazily, from that key to the same range end, every page at the revision
 * of the first (so the whole walk sees one consistent state; a compaction
 * past that revision mid-walk fails it with a compacted error).
 *
 * `limit`, if given, caps each page, not the walk. Only ascending key order
 * can be continued by key; another order is refused.
 */
export async function* rangePages<KV, P extends RangePage<KV>>(
  range: (request: RangeRequest) => Promise<P>,
  request: RangeRequest,
): AsyncGenerator<P, void, undefined> {
  const order = request.sortOrder ?? "none";
  const target = request.sortTarget ?? "key";
  if (target !== "key" || order === "descend") {
    throw new ClientError(
      "INVALID_ARGUMENT",
      "paging a range needs ascending key order (sortTarget key, sortOrder none or ascend)",
    );
  }
  const asked = toBytes(request.key);
  // The next page starts at another key, so a prefix becomes its explicit range end.
  const rangeEnd = request.prefix === true ? prefixEnd(asked) : request.rangeEnd;
  const start = rangeEnd === undefined ? asked : rangeStart(asked);
  let key: Uint8Array = start;
  let revision = request.revision ?? 0;
  for (;;) {
    const page = await range({
      ...request,
      key,
      prefix: false,
      ...(rangeEnd !== undefined && { rangeEnd }),
      revision,
    });
    yield page;
    if (!page.more || page.nextKey === undefined) return;
    // A next key that does not move forward would page forever.
    if (Buffer.compare(page.nextKey, key) <= 0) {
      throw new BadResponseError("range next_key does not follow the page's first key");
    }
    if (revision === 0) revision = page.revision;
    key = page.nextKey;
  }
}

/** Every key-value of the range, in key order, fetched page by page as the caller reads. */
export async function* scanRange<KV>(
  range: (request: RangeRequest) => Promise<RangePage<KV>>,
  request: RangeRequest,
): AsyncGenerator<KV, void, undefined> {
  for await (const page of rangePages<KV, RangePage<KV>>(range, request)) yield* page.kvs;
}
