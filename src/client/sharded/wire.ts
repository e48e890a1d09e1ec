/** Answer bodies of the `/v3/shard/...` routes, read defensively. */
import { BadResponseError } from "../errors.js";
import { asArray, asBool, asInt, asObject, asString, type Json } from "../json-read.js";

/** A member of the sharded cluster, as the map lists it. */
export interface ShardNode {
  readonly id: number;
  /** host:port of its peer transport. */
  readonly peer: string;
  /** Base URL of its client API, e.g. `http://127.0.0.1:2379`; "" when it serves none. */
  readonly client: string;
  readonly capacity: number;
  readonly draining: boolean;
}

/** Where one group lives. */
export interface ShardGroup {
  /** 0 is the meta group; shards are 1..shardCount. */
  readonly group: number;
  /** Bumped on every change of the group's replica set. */
  readonly epoch: number;
  readonly replicas: readonly number[];
  /** The leader the answering node knew; 0 when unknown. */
  readonly leader: number;
}

/** The shard map (GET /v3/shard/map). `revision` only grows: the client keeps the newest. */
export interface ShardMap {
  readonly revision: number;
  readonly shardCount: number;
  readonly replication: number;
  readonly nodes: readonly ShardNode[];
  readonly groups: readonly ShardGroup[];
}

export interface ShardNodeStatus {
  readonly id: number;
  readonly client: string;
  /** The controller hears the node's heartbeats. */
  readonly live: boolean;
  readonly draining: boolean;
  /** How many replicas it holds. */
  readonly replicas: number;
  /** How many groups it leads. */
  readonly leaders: number;
}

export interface ShardGroupStatus {
  readonly group: number;
  readonly epoch: number;
  /** Where the controller wants the group. */
  readonly target: readonly number[];
  /** Its committed configuration, as its replicas report it. */
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  /** 0 when unknown. */
  readonly leader: number;
  /** The voters are the target and nothing is in flight. */
  readonly settled: boolean;
}

/** The controller's view (GET /v3/shard/status). */
export interface ShardStatus {
  readonly controller: number;
  readonly revision: number;
  readonly nodes: readonly ShardNodeStatus[];
  readonly groups: readonly ShardGroupStatus[];
}

/** What the shard kv answers add to the header: which shard answered, at which epoch. */
export interface ShardHeader {
  readonly shard: number;
  readonly epoch: number;
  /** That shard's revision: there is no revision across shards. */
  readonly revision: number;
}

function ids(value: unknown, what: string): number[] {
  return asArray(value, what).map((v, i) => asInt(v, `${what}[${i}]`));
}

/** A count, sent as a number or as the list it counts. */
function count(value: unknown, what: string): number {
  return Array.isArray(value) ? value.length : asInt(value, what);
}

function text(value: unknown, what: string): string {
  return value === undefined || value === null ? "" : asString(value, what);
}

export function shardMapResult(value: unknown, what = "shard map"): ShardMap {
  const o = asObject(value, what);
  const shardCount = asInt(o["shardCount"], `${what}.shardCount`);
  if (shardCount < 1) throw new BadResponseError(`${what}.shardCount is ${shardCount}`);
  return {
    revision: asInt(o["revision"], `${what}.revision`),
    shardCount,
    replication: asInt(o["replication"], `${what}.replication`),
    nodes: asArray(o["nodes"], `${what}.nodes`).map((n, i) => {
      const at = `${what}.nodes[${i}]`;
      const node = asObject(n, at);
      return {
        id: asInt(node["id"], `${at}.id`),
        peer: text(node["peer"], `${at}.peer`),
        client: text(node["client"], `${at}.client`),
        capacity: typeof node["capacity"] === "number" ? node["capacity"] : 1,
        draining: asBool(node["draining"], `${at}.draining`),
      };
    }),
    groups: asArray(o["groups"], `${what}.groups`).map((g, i) => {
      const at = `${what}.groups[${i}]`;
      const group = asObject(g, at);
      return {
        group: asInt(group["group"], `${at}.group`),
        epoch: asInt(group["epoch"], `${at}.epoch`),
        replicas: ids(group["replicas"], `${at}.replicas`),
        leader: asInt(group["leader"] ?? 0, `${at}.leader`),
      };
    }),
  };
}

export function shardStatusResult(value: unknown, what = "shard status"): ShardStatus {
  const o = asObject(value, what);
  return {
    controller: asInt(o["controller"] ?? 0, `${what}.controller`),
    revision: asInt(o["revision"], `${what}.revision`),
    nodes: asArray(o["nodes"], `${what}.nodes`).map((n, i) => {
      const at = `${what}.nodes[${i}]`;
      const node = asObject(n, at);
      return {
        id: asInt(node["id"], `${at}.id`),
        client: text(node["client"], `${at}.client`),
        live: asBool(node["live"], `${at}.live`),
        draining: asBool(node["draining"], `${at}.draining`),
        replicas: count(node["replicas"], `${at}.replicas`),
        leaders: count(node["leaders"], `${at}.leaders`),
      };
    }),
    groups: asArray(o["groups"], `${what}.groups`).map((g, i) => {
      const at = `${what}.groups[${i}]`;
      const group = asObject(g, at);
      return {
        group: asInt(group["group"], `${at}.group`),
        epoch: asInt(group["epoch"], `${at}.epoch`),
        target: ids(group["target"], `${at}.target`),
        voters: ids(group["voters"], `${at}.voters`),
        learners: ids(group["learners"], `${at}.learners`),
        leader: asInt(group["leader"] ?? 0, `${at}.leader`),
        settled: asBool(group["settled"], `${at}.settled`),
      };
    }),
  };
}

/** `header.shard`, `header.epoch` and `header.revision` of a shard kv answer. */
export function shardHeader(body: Json, what: string): ShardHeader {
  const header = asObject(body["header"], `${what}.header`);
  return {
    shard: asInt(header["shard"], `${what}.header.shard`),
    epoch: asInt(header["epoch"], `${what}.header.epoch`),
    revision: asInt(header["revision"], `${what}.header.revision`),
  };
}

/** The `epoch` of a move's answer. */
export function moveResult(value: unknown): { epoch: number } {
  return { epoch: asInt(asObject(value, "shard move")["epoch"], "shard move.epoch") };
}
