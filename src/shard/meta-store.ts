/**
 * The controller's durable state, kept in the meta group's (group 0) key
 * space: one key per node, one per group, and the fixed configuration.
 * Reads are linearizable; a group's record is rewritten only if it was not
 * modified since it was read, so a controller that lost its election can
 * never overwrite its successor's decisions.
 */
import { type KvReplica, prefixEnd, utf8 } from "../kv/index.js";
import type { PutCommand, TxnOp } from "../kv/types.js";
import { groupRecord, nodeRecord } from "./control-codec.js";
import type { GroupRecord, NodeRecord } from "./types.js";

const CONFIG_KEY = "shard/config";
const NODE_PREFIX = "shard/node/";
const GROUP_PREFIX = "shard/group/";

export interface MetaState {
  /** The meta key space's revision when read: the map's revision. */
  readonly revision: number;
  readonly config: { readonly shardCount: number; readonly replication: number } | undefined;
  readonly nodes: readonly NodeRecord[];
  /** Each group's record, with the revision it was last written at (for the fence). */
  readonly groups: readonly { readonly record: GroupRecord; readonly modRevision: number }[];
}

export interface MetaChanges {
  readonly config?: { readonly shardCount: number; readonly replication: number };
  readonly nodes?: readonly NodeRecord[];
  /** `modRevision` 0: the record must not exist yet. */
  readonly groups?: readonly { readonly record: GroupRecord; readonly modRevision: number }[];
}

function key(prefix: string, id: number): Uint8Array {
  // Fixed width, so the key order is the numeric order.
  return utf8(`${prefix}${String(id).padStart(10, "0")}`);
}

/** Every key under the prefix. */
function under(prefix: string): { key: Uint8Array; rangeEnd: Uint8Array } {
  const key = utf8(prefix);
  return { key, rangeEnd: prefixEnd(key) };
}

function json(value: Uint8Array): unknown {
  return JSON.parse(Buffer.from(value).toString("utf8"));
}

export class MetaStore {
  constructor(private readonly meta: KvReplica) {}

  async read(): Promise<MetaState> {
    return this.meta.read(false, (store) => {
      const config = store.range({ key: utf8(CONFIG_KEY) }).kvs[0];
      const nodes = store.range(under(NODE_PREFIX));
      const groups = store.range(under(GROUP_PREFIX));
      const c = config === undefined ? undefined : (json(config.value) as MetaState["config"]);
      return {
        revision: store.revision,
        config: c,
        nodes: nodes.kvs.map((kv, i) => nodeRecord(json(kv.value), `meta node ${i}`)),
        groups: groups.kvs.map((kv, i) => ({
          record: groupRecord(json(kv.value), `meta group ${i}`),
          modRevision: kv.modRevision,
        })),
      };
    });
  }

  /**
   * Writes the changes in one transaction. Resolves with the new revision, or
   * undefined when a group record changed since it was read (nothing written).
   */
  async write(changes: MetaChanges): Promise<number | undefined> {
    const puts: PutCommand[] = [];
    const put = (k: Uint8Array, v: unknown) =>
      puts.push({ type: "put", key: k, value: utf8(JSON.stringify(v)) });
    if (changes.config !== undefined) put(utf8(CONFIG_KEY), changes.config);
    for (const n of changes.nodes ?? []) put(key(NODE_PREFIX, n.id), n);
    for (const g of changes.groups ?? []) put(key(GROUP_PREFIX, g.record.group), g.record);
    const result = await this.meta.write({
      type: "txn",
      compare: (changes.groups ?? []).map((g) => ({
        key: key(GROUP_PREFIX, g.record.group),
        target: "mod" as const,
        result: "equal" as const,
        value: g.modRevision,
      })),
      success: puts as TxnOp[],
      failure: [],
    });
    return result.succeeded ? result.revision : undefined;
  }
}
