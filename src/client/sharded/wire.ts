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

/** One object of an answer; each field read names itself (`at.field`) in a BadResponseError. */
class Fields {
  private readonly o: Json;

  constructor(
    value: unknown,
    private readonly at: string,
  ) {
    this.o = asObject(value, at);
  }

  raw(key: string): unknown {
    return this.o[key];
  }

  /** An integer; absent is 0 (`orZero`: null too). */
  int(key: string, orZero = false): number {
    const value = this.o[key];
    return asInt(orZero ? (value ?? 0) : value, this.name(key));
  }

  bool(key: string): boolean {
    return asBool(this.o[key], this.name(key));
  }

  /** A string; absent or null is "". */
  text(key: string): string {
    const value = this.o[key];
    return value === undefined || value === null ? "" : asString(value, this.name(key));
  }

  /** A list of node ids. */
  ids(key: string): number[] {
    const what = this.name(key);
    return asArray(this.o[key], what).map((v, i) => asInt(v, `${what}[${i}]`));
  }

  /** A count, sent as a number or as the list it counts. */
  count(key: string): number {
    const value = this.o[key];
    return Array.isArray(value) ? value.length : asInt(value, this.name(key));
  }

  /** A list of objects, each read by `read`. */
  list<T>(key: string, read: (item: Fields) => T): T[] {
    const what = this.name(key);
    return asArray(this.o[key], what).map((v, i) => read(new Fields(v, `${what}[${i}]`)));
  }

  private name(key: string): string {
    return `${this.at}.${key}`;
  }
}

export function shardMapResult(value: unknown, what = "shard map"): ShardMap {
  const o = new Fields(value, what);
  const shardCount = o.int("shardCount");
  if (shardCount < 1) throw new BadResponseError(`${what}.shardCount is ${shardCount}`);
  return {
    revision: o.int("revision"),
    shardCount,
    replication: o.int("replication"),
    nodes: o.list("nodes", (node) => {
      const capacity = node.raw("capacity");
      return {
        id: node.int("id"),
        peer: node.text("peer"),
        client: node.text("client"),
        capacity: typeof capacity === "number" ? capacity : 1,
        draining: node.bool("draining"),
      };
    }),
    groups: o.list("groups", (group) => ({
      group: group.int("group"),
      epoch: group.int("epoch"),
      replicas: group.ids("replicas"),
      leader: group.int("leader", true),
    })),
  };
}

export function shardStatusResult(value: unknown, what = "shard status"): ShardStatus {
  const o = new Fields(value, what);
  return {
    controller: o.int("controller", true),
    revision: o.int("revision"),
    nodes: o.list("nodes", (node) => ({
      id: node.int("id"),
      client: node.text("client"),
      live: node.bool("live"),
      draining: node.bool("draining"),
      replicas: node.count("replicas"),
      leaders: node.count("leaders"),
    })),
    groups: o.list("groups", (group) => ({
      group: group.int("group"),
      epoch: group.int("epoch"),
      target: group.ids("target"),
      voters: group.ids("voters"),
      learners: group.ids("learners"),
      leader: group.int("leader", true),
      settled: group.bool("settled"),
    })),
  };
}

/** `header.shard`, `header.epoch` and `header.revision` of a shard kv answer. */
export function shardHeader(body: Json, what: string): ShardHeader {
  const header = new Fields(body["header"], `${what}.header`);
  return {
    shard: header.int("shard"),
    epoch: header.int("epoch"),
    revision: header.int("revision"),
  };
}

/** The `epoch` of a move's answer. */
export function moveResult(value: unknown): { epoch: number } {
  return { epoch: new Fields(value, "shard move").int("epoch") };
}
