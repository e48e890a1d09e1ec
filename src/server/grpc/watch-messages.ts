import type { KeyValue, KvEvent, WatchOptions } from "../../kv/index.js";
import { BadRequestError } from "../errors.js";
import type { ServerLimits } from "../options.js";
import type { ResponseHeaderJson } from "../response-header.js";
import { type WatchRequestJson, watchOptions } from "../watch-routes.js";

/** etcdserverpb.WatchCreateRequest as protos.ts decodes it (unset fields absent). */
export interface WatchCreateJson {
  readonly key?: string;
  readonly range_end?: string;
  readonly start_revision?: string;
  readonly progress_notify?: boolean;
  readonly filters?: readonly string[];
  readonly prev_kv?: boolean;
  readonly watch_id?: string;
  readonly fragment?: boolean;
}

/** etcdserverpb.WatchRequest: one of the three. */
export interface WatchRequestMessage {
  readonly create_request?: WatchCreateJson;
  readonly cancel_request?: { readonly watch_id?: string };
  readonly progress_request?: Record<string, never>;
}

/** mvccpb.KeyValue as handed to the serializer: bytes as bytes, int64 as numbers, zeros left out. */
export interface KeyValueMessage {
  readonly key: Uint8Array;
  readonly create_revision?: number;
  readonly mod_revision?: number;
  readonly version?: number;
  readonly value?: Uint8Array;
  readonly lease?: number;
}

export interface EventMessage {
  readonly type?: "DELETE";
  readonly kv: KeyValueMessage;
  readonly prev_kv?: KeyValueMessage;
}

/** etcdserverpb.WatchResponse. */
export interface WatchResponseMessage {
  readonly header: ResponseHeaderJson | { readonly revision: string };
  readonly watch_id?: number;
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly compact_revision?: number;
  readonly cancel_reason?: string;
  readonly fragment?: boolean;
  readonly events?: readonly EventMessage[];
}

/** A create request, validated: what to watch and how this stream reports it. */
export interface WatchCreate {
  readonly options: WatchOptions;
  /** The id the client chose; 0 asks the server to pick one (etcd's AutoWatchID). */
  readonly watchId: number;
  readonly progressNotify: boolean;
  readonly fragment: boolean;
}

/** etcd's "smallest key": an empty key is read as "\0" (with range_end "\0", every key). */
const ZERO_KEY_BASE64 = "AA==";

/** Throws the HTTP API's typed errors (BadRequestError, TooLargeError, KV validation). */
export function parseCreate(create: WatchCreateJson, limits: ServerLimits): WatchCreate {
  const filters = create.filters ?? [];
  for (const f of filters) {
    if (f !== "NOPUT" && f !== "NODELETE") throw new BadRequestError(`unknown watch filter ${f}`);
  }
  const body: WatchRequestJson = {
    key: create.key === undefined || create.key === "" ? ZERO_KEY_BASE64 : create.key,
    ...(create.range_end !== undefined &&
      create.range_end !== "" && {
        range_end: create.range_end,
      }),
    ...(create.start_revision !== undefined && { start_revision: create.start_revision }),
    prev_kv: create.prev_kv === true,
    filters: filters as ("NOPUT" | "NODELETE")[],
  };
  const watchId = create.watch_id === undefined ? 0 : Number(create.watch_id);
  if (!Number.isSafeInteger(watchId) || watchId < 0) {
    throw new BadRequestError(`watch_id must be an integer in [0, 2^53), got ${create.watch_id}`);
  }
  return {
    options: watchOptions(body, limits),
    watchId,
    progressNotify: create.progress_notify === true,
    fragment: create.fragment === true,
  };
}

/** The id of a cancel request; undefined when it names no id this server could have given. */
export function parseWatchId(text: string | undefined): number | undefined {
  const id = text === undefined ? 0 : Number(text);
  return Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}

function keyValueMessage(kv: KeyValue): KeyValueMessage {
  return {
    key: kv.key,
    ...(kv.createRevision !== 0 && { create_revision: kv.createRevision }),
    ...(kv.modRevision !== 0 && { mod_revision: kv.modRevision }),
    ...(kv.version !== 0 && { version: kv.version }),
    ...(kv.value.byteLength !== 0 && { value: kv.value }),
    ...(kv.lease !== 0 && { lease: kv.lease }),
  };
}

export function eventMessage(e: KvEvent): EventMessage {
  return {
    ...(e.type === "delete" && { type: "DELETE" }),
    kv: keyValueMessage(e.kv),
    ...(e.prevKv !== undefined && { prev_kv: keyValueMessage(e.prevKv) }),
  };
}

/**
 * An upper bound of a KeyValue's protobuf size: its two byte fields with
 * their tag and length, four int64 fields at their widest (tag + 10 bytes).
 */
function keyValueBytes(kv: KeyValue): number {
  return kv.key.byteLength + kv.value.byteLength + 2 * 6 + 4 * 11;
}

/** An upper bound of an Event's size inside a WatchResponse (its own tag and length included). */
export function eventBytes(e: KvEvent): number {
  const prev = e.prevKv === undefined ? 0 : 6 + keyValueBytes(e.prevKv);
  return 6 + 2 + 6 + keyValueBytes(e.kv) + prev;
}

/** An upper bound of a WatchResponse's size without its events: header, id, flags, reason. */
export const RESPONSE_OVERHEAD_BYTES = 512;

/**
 * Splits the events of one revision into runs that each fit `maxBytes`
 * (with the response's overhead), in order. An event too large to fit any
 * run on its own is returned as a run of its own; the caller refuses it.
 */
export function fragmentRuns(events: readonly KvEvent[], maxBytes: number): KvEvent[][] {
  const runs: KvEvent[][] = [];
  let run: KvEvent[] = [];
  let runBytes = RESPONSE_OVERHEAD_BYTES;
  for (const e of events) {
    const bytes = eventBytes(e);
    if (run.length > 0 && runBytes + bytes > maxBytes) {
      runs.push(run);
      run = [];
      runBytes = RESPONSE_OVERHEAD_BYTES;
    }
    run.push(e);
    runBytes += bytes;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

export function runBytes(events: readonly KvEvent[]): number {
  let bytes = RESPONSE_OVERHEAD_BYTES;
  for (const e of events) bytes += eventBytes(e);
  return bytes;
}
