import fc from "fast-check";
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import {
  decodeControl,
  encodeControl,
  InvalidControlMessageError,
} from "../../src/shard/control-codec.js";
import type {
  ControlMessage,
  GroupReport,
  HeartbeatReply,
  HeartbeatRequest,
  Operator,
  Redirect,
  ShardMap,
} from "../../src/shard/types.js";

const packr = new Packr({ useRecords: false, moreTypes: false });
const pack = (v: unknown) => packr.pack(v);
const MAX_ITEMS = 1 << 17;

const report: GroupReport = {
  group: 3,
  term: 7,
  leader: 2,
  voters: [1, 2, 3],
  learners: [4],
  outgoing: [],
  commit: 120,
  applied: 119,
  match: [
    [1, 120],
    [3, 118],
  ],
};

const map: ShardMap = {
  revision: 42,
  shardCount: 2,
  replication: 3,
  nodes: [
    {
      id: 1,
      peer: "127.0.0.1:7001",
      client: "http://127.0.0.1:2379",
      capacity: 1,
      draining: false,
    },
    { id: 2, peer: "127.0.0.1:7002", client: "", capacity: 2.5, draining: true },
  ],
  groups: [
    { group: 0, epoch: 1, replicas: [1, 2] },
    { group: 1, epoch: 4, replicas: [2, 1] },
    { group: 2, epoch: 2, replicas: [] },
  ],
};

const operators: Operator[] = [
  { group: 1, kind: "add-learner", node: 4, peer: "10.0.0.4:7000" },
  { group: 1, kind: "promote", node: 4, peer: "10.0.0.4:7000" },
  { group: 2, kind: "remove", node: 3 },
  { group: 0, kind: "transfer-leader", node: 1 },
];

const heartbeat: HeartbeatRequest = {
  type: "heartbeat",
  seq: 1,
  node: { id: 2, peer: "127.0.0.1:7002", client: "http://127.0.0.1:2380", capacity: 1 },
  mapRevision: 0,
  groups: [report, { ...report, group: 0, leader: 0, learners: [], match: [] }],
};

const reply: HeartbeatReply = {
  type: "heartbeat-reply",
  seq: 9,
  map,
  operators,
  destroy: [0, 5],
};

const redirect: Redirect = { type: "redirect", seq: 3, controller: 0, peer: "" };

const roundTrip = (m: ControlMessage) => decodeControl(encodeControl(m));

/** decode, re-encode, decode: the same value (a decoded message is a fixed point). */
function stable(m: ControlMessage): void {
  expect(roundTrip(m)).toEqual(m);
}

function refused(payload: unknown, what?: RegExp): void {
  const bytes = payload instanceof Uint8Array ? payload : pack(payload);
  let error: unknown;
  try {
    decodeControl(bytes);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidControlMessageError);
  if (what !== undefined) expect((error as Error).message).toMatch(what);
}

describe("control codec: round trips", () => {
  it.each([
    ["heartbeat", heartbeat],
    ["heartbeat with no groups", { ...heartbeat, groups: [] }],
    ["heartbeat-reply with a map", reply],
    ["heartbeat-reply without a map", { ...reply, map: undefined }],
    [
      "heartbeat-reply with nothing to do",
      { type: "heartbeat-reply", seq: 0, operators: [], destroy: [] },
    ],
    ["redirect to nobody", redirect],
    ["redirect to a node", { type: "redirect", seq: 4, controller: 3, peer: "127.0.0.1:7003" }],
    ["ping", { type: "ping", seq: 9 }],
  ] as [string, ControlMessage][])("%s", (_name, message) => {
    const decoded = roundTrip(message);
    // An absent map is left out, not decoded as undefined.
    const expected = JSON.parse(JSON.stringify(message)) as ControlMessage;
    expect(decoded).toEqual(expected);
    stable(decoded);
  });

  it("every operator kind survives, and a null map reads as none", () => {
    const decoded = roundTrip(reply) as HeartbeatReply;
    expect(decoded.operators.map((o) => o.kind)).toEqual([
      "add-learner",
      "promote",
      "remove",
      "transfer-leader",
    ]);
    const noMap = decodeControl(pack({ ...reply, map: null })) as HeartbeatReply;
    expect(noMap.map).toBeUndefined();
    expect("map" in noMap).toBe(false);
  });

  it("drops fields it does not know (a newer peer's additions)", () => {
    const decoded = decodeControl(
      pack({ ...redirect, extra: 1, nested: { deep: true } }),
    ) as Redirect & { extra?: unknown };
    expect(decoded).toEqual(redirect);
    expect(decoded.extra).toBeUndefined();
  });
});

describe("control codec: refusals", () => {
  it("not msgpack, not an object, an unknown type", () => {
    refused(new Uint8Array([]), /not msgpack/);
    refused(new Uint8Array([0x92, 0x01]), /not msgpack/); // an array cut short
    // msgpack's reserved byte decodes to a marker object: refused field by field.
    refused(new Uint8Array([0xc1]));
    refused(null, /message is not an object/);
    refused([heartbeat], /message is not an object/);
    refused(5, /message is not an object/);
    refused({ ...redirect, type: "vote" }, /unknown type/);
    refused({ ...redirect, type: undefined }, /unknown type/);
  });

  it("node id 0, anywhere a node is named", () => {
    refused({ ...heartbeat, node: { ...heartbeat.node, id: 0 } }, /node\.id is 0/);
    refused(
      { ...heartbeat, groups: [{ ...report, voters: [1, 0] }] },
      /groups\[0\]\.voters\[1\] is 0/,
    );
    refused({ ...heartbeat, groups: [{ ...report, learners: [0] }] }, /learners\[0\] is 0/);
    refused({ ...heartbeat, groups: [{ ...report, match: [[0, 5]] }] }, /match\[0\]/);
    refused(
      { ...reply, operators: [{ group: 1, kind: "remove", node: 0 }] },
      /operators\[0\]\.node/,
    );
    refused(
      { ...reply, map: { ...map, nodes: [{ ...map.nodes[0], id: 0 }] } },
      /map\.nodes\[0\]\.id is 0/,
    );
    refused(
      { ...reply, map: { ...map, groups: [{ group: 1, epoch: 1, replicas: [0] }] } },
      /map\.groups\[0\]\.replicas\[0\] is 0/,
    );
    // The meta group is 0 and "no controller known" is 0: both allowed.
    stable(decodeControl(pack({ ...reply, destroy: [0] })));
    stable(decodeControl(pack({ ...redirect, controller: 0 })));
  });

  it("negative, fractional, unsafe or non-numeric counters", () => {
    for (const seq of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, "1", null, true]) {
      refused({ ...redirect, seq }, /seq is not a non-negative integer/);
    }
    refused({ ...redirect, seq: undefined }, /seq/);
    refused({ ...heartbeat, mapRevision: -3 }, /mapRevision/);
    refused({ ...heartbeat, groups: [{ ...report, term: -1 }] }, /groups\[0\]\.term/);
    refused({ ...heartbeat, groups: [{ ...report, commit: 0.5 }] }, /groups\[0\]\.commit/);
    refused({ ...reply, destroy: [-1] }, /destroy\[0\]/);
    refused({ ...reply, map: { ...map, revision: -1 } }, /map\.revision/);
    refused(
      { ...reply, map: { ...map, groups: [{ group: 1, epoch: -2, replicas: [] }] } },
      /epoch/,
    );
  });

  it("capacity 0, negative, NaN, infinite or not a number", () => {
    for (const capacity of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "1", null, undefined]) {
      refused({ ...heartbeat, node: { ...heartbeat.node, capacity } }, /node\.capacity/);
      refused(
        { ...reply, map: { ...map, nodes: [{ ...map.nodes[0], capacity }] } },
        /map\.nodes\[0\]\.capacity/,
      );
    }
    // Fractional capacities are relative weights: fine.
    stable(decodeControl(pack({ ...heartbeat, node: { ...heartbeat.node, capacity: 0.25 } })));
  });

  it("oversized lists and texts", () => {
    const many = new Array<number>(MAX_ITEMS + 1).fill(1);
    refused({ ...reply, destroy: many }, /destroy is not a list of at most/);
    refused({ ...heartbeat, groups: [{ ...report, voters: many }] }, /voters is not a list/);
    refused({ ...reply, map: { ...map, groups: many } }, /map\.groups is not a list/);
    // At the bound exactly: accepted.
    expect(
      (decodeControl(pack({ ...reply, destroy: many.slice(1) })) as HeartbeatReply).destroy,
    ).toHaveLength(MAX_ITEMS);
    const long = "x".repeat(1025);
    refused({ ...redirect, peer: long }, /peer is not a string of at most 1024/);
    refused({ ...heartbeat, node: { ...heartbeat.node, client: long } }, /node\.client/);
    stable(decodeControl(pack({ ...redirect, peer: "x".repeat(1024) })));
  });

  it("wrong kinds: of a value, of an operator, of a list item", () => {
    refused(
      { ...reply, operators: [{ group: 1, kind: "split", node: 2 }] },
      /operators\[0\]\.kind/,
    );
    refused(
      { ...reply, operators: [{ group: 1, kind: "add-learner", node: 2 }] },
      /operators\[0\]\.peer/,
    );
    refused({ ...reply, operators: {} }, /operators is not a list/);
    refused({ ...reply, operators: [null] }, /operators\[0\] is not an object/);
    refused({ ...heartbeat, node: [1, "a", "b", 1] }, /node is not an object/);
    refused({ ...heartbeat, groups: "none" }, /groups is not a list/);
    refused({ ...heartbeat, groups: [{ ...report, match: [[1]] }] }, /match\[0\]/);
    refused({ ...heartbeat, groups: [{ ...report, match: [[1, 2, 3]] }] }, /match\[0\]/);
    refused({ ...heartbeat, groups: [{ ...report, match: [{ 0: 1, 1: 2 }] }] }, /match\[0\]/);
    refused({ ...reply, map: { ...map, nodes: [{ ...map.nodes[0], draining: 0 }] } }, /draining/);
    refused({ ...reply, map: "map" }, /map is not an object/);
    refused({ ...redirect, peer: 7 }, /peer is not a string/);
    refused({ ...heartbeat, node: { ...heartbeat.node, peer: new Uint8Array(3) } }, /node\.peer/);
  });
});

// ---- fuzz ---------------------------------------------------------------------------

const nodeId = fc.integer({ min: 1, max: 1000 });
const uint = fc.nat({ max: 1_000_000 });
const ids = fc.array(nodeId, { maxLength: 5 });
const peer = fc.string({ maxLength: 40 });

const groupReportArb: fc.Arbitrary<GroupReport> = fc.record({
  group: uint,
  term: uint,
  leader: uint,
  voters: ids,
  learners: ids,
  outgoing: ids,
  commit: uint,
  applied: uint,
  match: fc.array(fc.tuple(nodeId, uint), { maxLength: 4 }),
});

const operatorArb: fc.Arbitrary<Operator> = fc.oneof(
  fc.record({
    group: uint,
    kind: fc.constantFrom("add-learner" as const, "promote" as const),
    node: nodeId,
    peer,
  }),
  fc.record({
    group: uint,
    kind: fc.constantFrom("remove" as const, "transfer-leader" as const),
    node: nodeId,
  }),
);

const capacityArb = fc.double({ min: 0.001, max: 1000, noNaN: true });

const mapArb: fc.Arbitrary<ShardMap> = fc.record({
  revision: uint,
  shardCount: uint,
  replication: uint,
  nodes: fc.array(
    fc.record({ id: nodeId, peer, client: peer, capacity: capacityArb, draining: fc.boolean() }),
    { maxLength: 4 },
  ),
  groups: fc.array(fc.record({ group: uint, epoch: uint, replicas: ids }), { maxLength: 4 }),
});

const messageArb: fc.Arbitrary<ControlMessage> = fc.oneof(
  fc.record({
    type: fc.constant("heartbeat" as const),
    seq: uint,
    node: fc.record({ id: nodeId, peer, client: peer, capacity: capacityArb }),
    mapRevision: uint,
    groups: fc.array(groupReportArb, { maxLength: 3 }),
  }),
  fc.record(
    {
      type: fc.constant("heartbeat-reply" as const),
      seq: uint,
      map: mapArb,
      operators: fc.array(operatorArb, { maxLength: 4 }),
      destroy: fc.array(uint, { maxLength: 4 }),
    },
    { requiredKeys: ["type", "seq", "operators", "destroy"] },
  ),
  fc.record({ type: fc.constant("redirect" as const), seq: uint, controller: uint, peer }),
);

/** decodeControl either gives a value that re-encodes to itself, or refuses with its own error. */
function decodesOrRefuses(bytes: Uint8Array): void {
  let decoded: ControlMessage;
  try {
    decoded = decodeControl(bytes);
  } catch (e) {
    if (!(e instanceof InvalidControlMessageError)) {
      throw new Error(`decodeControl threw ${String(e)} for ${Buffer.from(bytes).toString("hex")}`);
    }
    return;
  }
  expect(roundTrip(decoded)).toEqual(decoded);
}

/** One structural change to a plain value: a field dropped, replaced, or a list item replaced. */
const anyValue = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.double(),
  fc.string({ maxLength: 5 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.integer({ min: -1, max: 3 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.nat(3), { maxKeys: 2 }),
  fc.constantFrom("heartbeat", "heartbeat-reply", "redirect", "remove", "promote"),
);

function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(at);
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) paths(x, [...at, i], out);
  } else if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  }
  return out;
}

function mutate(root: unknown, path: (string | number)[], action: number, value: unknown): unknown {
  if (path.length === 0) return action === 0 ? value : root;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let parent = copy;
  for (const p of path.slice(0, -1)) parent = parent[p] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (action === 1 && !Array.isArray(parent)) delete parent[last];
  else if (action === 1 && Array.isArray(parent)) parent.splice(last as number, 1);
  else if (action === 2 && typeof parent[last] === "object" && parent[last] !== null) {
    (parent[last] as Record<string, unknown>)["zz"] = value;
  } else parent[last] = value;
  return copy;
}

describe("control codec: fuzz", () => {
  it("every generated message round-trips to itself", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const expected = JSON.parse(JSON.stringify(m)) as ControlMessage;
        expect(roundTrip(m)).toEqual(expected);
      }),
      { seed: 20_240_601, numRuns: 500 },
    );
  });

  it("arbitrary bytes: a fixed point or InvalidControlMessageError, nothing else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => decodesOrRefuses(bytes)),
      { seed: 1_234_567, numRuns: 2000 },
    );
  });

  it("valid messages with bytes flipped, cut or extended: the same", () => {
    fc.assert(
      fc.property(
        messageArb,
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom("flip", "cut", "append"),
        (m, at, byte, how) => {
          const bytes = new Uint8Array(encodeControl(m));
          const i = at % Math.max(1, bytes.length);
          if (how === "flip") bytes[i] = byte;
          const out =
            how === "cut"
              ? bytes.slice(0, i)
              : how === "append"
                ? Uint8Array.from([...bytes, byte])
                : bytes;
          decodesOrRefuses(out);
        },
      ),
      { seed: 7_654_321, numRuns: 2000 },
    );
  });

  it("valid messages with one field dropped, replaced or extended: the same", () => {
    fc.assert(
      fc.property(
        messageArb,
        fc.nat(),
        fc.integer({ min: 0, max: 2 }),
        anyValue,
        (m, pick, action, value) => {
          const plain = JSON.parse(JSON.stringify(m)) as unknown;
          const all = paths(plain);
          const path = all[pick % all.length] as (string | number)[];
          decodesOrRefuses(pack(mutate(plain, path, action, value)));
        },
      ),
      { seed: 424_242, numRuns: 3000 },
    );
  });
});
