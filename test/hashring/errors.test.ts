/**
 * Every bad input gets a typed error with a stable code and a message that
 * names the problem, and leaves the placement as it was.
 */
import { describe, expect, it } from "vitest";
import { ConclaveError } from "../../src/errors.js";
import {
  BoundedLoadPlacement,
  CONFIG_FORMAT,
  createPlacement,
  DuplicateNodeError,
  EmptyRingError,
  HashringError,
  InvalidConfigurationError,
  InvalidKeyError,
  InvalidNodeIdError,
  InvalidOptionError,
  InvalidWeightError,
  JumpHash,
  KetamaRing,
  KeyNotPlacedError,
  MaglevHash,
  NotEnoughNodesError,
  type Placement,
  restore,
  restoreBoundedLoads,
  TableSizeNotPrimeError,
  UnknownNodeError,
  UnsupportedChangeError,
  VirtualNodeRing,
} from "../../src/hashring/index.js";
import { STATELESS_ALGORITHMS } from "./helpers.js";

/** Runs `action`, expecting an error of `type` with `code` whose message matches `message`. */
function expectError(
  action: () => unknown,
  type: abstract new (...args: never[]) => HashringError,
  code: string,
  message: RegExp,
): HashringError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(type);
  expect(caught).toBeInstanceOf(HashringError);
  expect(caught).toBeInstanceOf(ConclaveError);
  const error = caught as HashringError;
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
  return error;
}

// Values the type system forbids but JavaScript callers (and JSON) can pass.
const loose = <T>(value: unknown): T => value as T;

describe.each(STATELESS_ALGORITHMS)("%s rejects bad input", (algorithm) => {
  const fresh = (): Placement => createPlacement({ algorithm });
  const withNodes = (...ids: string[]): Placement => createPlacement({ algorithm, nodes: ids });

  it("lookup on an empty placement", () => {
    expectError(
      () => fresh().get("k"),
      EmptyRingError,
      "HASHRING_EMPTY",
      /cannot get: the placement has no nodes/,
    );
    expectError(() => fresh().getN("k", 1), EmptyRingError, "HASHRING_EMPTY", /cannot getN/);
  });

  it("removing an unknown node", () => {
    const p = withNodes("a", "b");
    expectError(
      () => p.removeNode("zz"),
      UnknownNodeError,
      "HASHRING_UNKNOWN_NODE",
      /node "zz" is not in the placement/,
    );
    expect(p.nodes().map((n) => n.id)).toEqual(["a", "b"]);
  });

  it("adding a node twice", () => {
    const p = withNodes("a", "b");
    const before = p.get("key");
    expectError(
      () => p.addNode("a", 2),
      DuplicateNodeError,
      "HASHRING_DUPLICATE_NODE",
      /node "a" is already in the placement/,
    );
    expect(p.nodes()).toEqual([
      { id: "a", weight: 1 },
      { id: "b", weight: 1 },
    ]);
    expect(p.get("key")).toBe(before);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, "2", null])(
    "weight %s",
    (weight) => {
      const p = withNodes("a");
      expectError(
        () => p.addNode("b", loose<number>(weight)),
        InvalidWeightError,
        "HASHRING_INVALID_WEIGHT",
        /weight of node "b" must be a finite number > 0/,
      );
      expect(p.size).toBe(1);
    },
  );

  it("getN with n above the node count, or n not a whole number >= 1", () => {
    const p = withNodes("a", "b", "c");
    expectError(
      () => p.getN("k", 4),
      NotEnoughNodesError,
      "HASHRING_NOT_ENOUGH_NODES",
      /asked for 4 distinct nodes but only 3 are available/,
    );
    expectError(
      () => p.getN("k", 1e9),
      NotEnoughNodesError,
      "HASHRING_NOT_ENOUGH_NODES",
      /1000000000/,
    );
    for (const n of [0, -1, 1.5, Number.NaN, loose<number>("2")]) {
      expectError(
        () => p.getN("k", n),
        InvalidOptionError,
        "HASHRING_INVALID_OPTION",
        /n must be a whole number >= 1/,
      );
    }
  });

  it("keys that are neither strings nor bytes", () => {
    const p = withNodes("a");
    for (const key of [42, null, undefined, {}, [1, 2], Symbol("s")]) {
      expectError(
        () => p.get(loose<string>(key)),
        InvalidKeyError,
        "HASHRING_INVALID_KEY",
        /key must be a string or a Uint8Array/,
      );
      expectError(
        () => p.getN(loose<string>(key), 1),
        InvalidKeyError,
        "HASHRING_INVALID_KEY",
        /key must be/,
      );
    }
  });

  it("node ids that are not non-empty strings", () => {
    const p = fresh();
    expectError(
      () => p.addNode(""),
      InvalidNodeIdError,
      "HASHRING_INVALID_NODE_ID",
      /must not be empty/,
    );
    expectError(
      () => p.addNode(loose<string>(7)),
      InvalidNodeIdError,
      "HASHRING_INVALID_NODE_ID",
      /must be a string, got number/,
    );
    expectError(
      () => p.addNode("x".repeat(1025)),
      InvalidNodeIdError,
      "HASHRING_INVALID_NODE_ID",
      /1025 characters long; the limit is 1024/,
    );
    expect(p.size).toBe(0);
  });
});

describe("algorithm-specific bad input", () => {
  it("ring: points per node out of range, or a weight that needs too many points", () => {
    for (const pointsPerNode of [0, -5, 2.5, Number.NaN, 2 ** 23]) {
      expectError(
        () => new VirtualNodeRing({ pointsPerNode }),
        InvalidOptionError,
        "HASHRING_INVALID_OPTION",
        /pointsPerNode must be a whole number from 1 to 4194304/,
      );
    }
    const ring = new VirtualNodeRing();
    expectError(
      () => ring.addNode("huge", 5000),
      InvalidWeightError,
      "HASHRING_INVALID_WEIGHT",
      /weight 5000 of node "huge" would give it 20000000 points/,
    );
    expect(ring.size).toBe(0);
  });

  it("ketama: weights are C integers whose total fits in 32 bits", () => {
    const ketama = new KetamaRing();
    expectError(
      () => ketama.addNode("a", 1.5),
      InvalidWeightError,
      "HASHRING_INVALID_WEIGHT",
      /must be a whole number.*ketama weights are C integers/,
    );
    ketama.addNode("a", 2 ** 32 - 2);
    expectError(
      () => ketama.addNode("b", 2),
      InvalidWeightError,
      "HASHRING_INVALID_WEIGHT",
      /from 1 to 1 /,
    );
    expect(ketama.size).toBe(1);
  });

  it("jump: fractional weights, and removing any node but the last", () => {
    const jump = new JumpHash();
    expectError(
      () => jump.addNode("a", 0.5),
      InvalidWeightError,
      "HASHRING_INVALID_WEIGHT",
      /bucket count/,
    );
    jump.addNode("a");
    jump.addNode("b");
    jump.addNode("c");
    expectError(
      () => jump.removeNode("a"),
      UnsupportedChangeError,
      "HASHRING_UNSUPPORTED_CHANGE",
      /can only remove the last node \("c"\); removing "a" would renumber/,
    );
    expect(jump.size).toBe(3);
    jump.removeNode("c");
    expect(jump.nodes().map((n) => n.id)).toEqual(["a", "b"]);
  });

  it("maglev: a table size that is not prime, out of range, or smaller than the node count", () => {
    for (const tableSize of [1000, 65536, 9, 4]) {
      const error = expectError(
        () => new MaglevHash({ tableSize }),
        TableSizeNotPrimeError,
        "HASHRING_TABLE_SIZE_NOT_PRIME",
        new RegExp(`tableSize ${tableSize} is not prime`),
      );
      expect((error as TableSizeNotPrimeError).tableSize).toBe(tableSize);
    }
    for (const tableSize of [0, 1, -7, 10.5, 2 ** 27 + 1, Number.NaN]) {
      expectError(
        () => new MaglevHash({ tableSize }),
        InvalidOptionError,
        "HASHRING_INVALID_OPTION",
        /tableSize must be a whole number from 2 to 67108864/,
      );
    }
    const small = new MaglevHash({ tableSize: 3 });
    for (const id of ["a", "b", "c"]) small.addNode(id);
    expectError(
      () => small.addNode("d"),
      InvalidOptionError,
      "HASHRING_INVALID_OPTION",
      /table of size 3 cannot hold 4 nodes/,
    );
    expect(small.size).toBe(3);
  });

  it("bounded loads: eps <= 0, unknown keys, emptying a node set that holds keys", () => {
    for (const eps of [0, -0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectError(
        () => new BoundedLoadPlacement({ eps }),
        InvalidOptionError,
        "HASHRING_INVALID_OPTION",
        /eps must be a finite number > 0/,
      );
    }
    const bounded = new BoundedLoadPlacement({ pointsPerNode: 50 });
    expectError(() => bounded.place("k"), EmptyRingError, "HASHRING_EMPTY", /cannot place a key/);
    bounded.addNode("only");
    bounded.place("k");
    expectError(
      () => bounded.get("other"),
      KeyNotPlacedError,
      "HASHRING_KEY_NOT_PLACED",
      /has not been placed/,
    );
    expectError(
      () => bounded.release("other"),
      KeyNotPlacedError,
      "HASHRING_KEY_NOT_PLACED",
      /has not been placed/,
    );
    expectError(
      () => bounded.removeNode("only"),
      UnsupportedChangeError,
      "HASHRING_UNSUPPORTED_CHANGE",
      /the last node, while it holds 1 keys/,
    );
    expectError(
      () => bounded.removeNode("ghost"),
      UnknownNodeError,
      "HASHRING_UNKNOWN_NODE",
      /"ghost"/,
    );
    expectError(
      () => bounded.capacityOf("ghost"),
      UnknownNodeError,
      "HASHRING_UNKNOWN_NODE",
      /"ghost"/,
    );
    expectError(
      () => bounded.addNode("only"),
      DuplicateNodeError,
      "HASHRING_DUPLICATE_NODE",
      /"only"/,
    );
    expectError(
      () => bounded.place(loose<string>(3)),
      InvalidKeyError,
      "HASHRING_INVALID_KEY",
      /got number/,
    );
    expect(bounded.get("k")).toBe("only");
    bounded.release("k");
    expect(bounded.removeNode("only")).toEqual([]);
  });

  it("createPlacement with an unknown algorithm", () => {
    expectError(
      () => createPlacement(loose({ algorithm: "modulo" })),
      InvalidOptionError,
      "HASHRING_INVALID_OPTION",
      /unknown algorithm "modulo"/,
    );
  });
});

describe("restore() rejects malformed configurations", () => {
  const node = (id: unknown, weight: unknown = 1) => ({ id, weight });
  const ring = (extra: Record<string, unknown> = {}) => ({
    format: CONFIG_FORMAT,
    algorithm: "ring",
    pointsPerNode: 10,
    nodes: [node("a"), node("b")],
    ...extra,
  });

  const cases: [string, unknown, RegExp][] = [
    ["text that is not JSON", '{"format": ', /not valid JSON/],
    ["a number", 42, /expected an object/],
    ["null", null, /expected an object/],
    ["an array", [ring()], /expected an object/],
    [
      "a wrong format tag",
      ring({ format: "other/v9" }),
      /format must be "conclave.hashring\/v1", got "other\/v9"/,
    ],
    [
      "an unknown algorithm",
      ring({ algorithm: "modulo" }),
      /algorithm must be one of ring, ketama, jump, rendezvous, maglev, bounded, got "modulo"/,
    ],
    ["missing nodes", { format: CONFIG_FORMAT, algorithm: "jump" }, /nodes must be an array/],
    ["a node that is not an object", ring({ nodes: ["a"] }), /nodes\[0\] must be an object/],
    [
      "a node without an id",
      ring({ nodes: [{ weight: 1 }] }),
      /nodes\[0\].id must be a non-empty string/,
    ],
    ["an empty node id", ring({ nodes: [node("")] }), /nodes\[0\].id must be a non-empty string/],
    [
      "a zero weight",
      ring({ nodes: [node("a"), node("b", 0)] }),
      /nodes\[1\].weight must be a finite number > 0, got 0/,
    ],
    [
      "a string weight",
      ring({ nodes: [node("a", "1")] }),
      /nodes\[0\].weight must be a finite number > 0, got "1"/,
    ],
    [
      "duplicate node ids",
      ring({ nodes: [node("a"), node("a")] }),
      /node "a" is already in the placement/,
    ],
    ["an unknown field", ring({ replicas: 3 }), /unknown field "replicas" for algorithm ring/],
    [
      "an unknown node field",
      ring({ nodes: [{ id: "a", weight: 1, port: 1 }] }),
      /nodes\[0\] has unknown field "port"/,
    ],
    ["bad pointsPerNode", ring({ pointsPerNode: -1 }), /pointsPerNode must be a whole number/],
    [
      "a missing pointsPerNode",
      { format: CONFIG_FORMAT, algorithm: "ring", nodes: [] },
      /missing field "pointsPerNode" for algorithm ring/,
    ],
    [
      "a fractional jump weight",
      { format: CONFIG_FORMAT, algorithm: "jump", nodes: [node("a", 1.5)] },
      /whole number/,
    ],
    [
      "a non-prime maglev table",
      {
        format: CONFIG_FORMAT,
        algorithm: "maglev",
        tableSize: 1000,
        autoSize: false,
        nodes: [node("a")],
      },
      /tableSize 1000 is not prime/,
    ],
    [
      "a maglev table without autoSize",
      { format: CONFIG_FORMAT, algorithm: "maglev", tableSize: 1009, nodes: [] },
      /missing field "autoSize" for algorithm maglev/,
    ],
    [
      "a non-boolean autoSize",
      { format: CONFIG_FORMAT, algorithm: "maglev", tableSize: 1009, autoSize: 1, nodes: [] },
      /autoSize must be a boolean/,
    ],
    [
      "a null fixed maglev table",
      { format: CONFIG_FORMAT, algorithm: "maglev", tableSize: null, autoSize: false, nodes: [] },
      /tableSize may be null only when autoSize is true/,
    ],
    [
      "a bounded configuration",
      { format: CONFIG_FORMAT, algorithm: "bounded", eps: 1, pointsPerNode: 1, nodes: [] },
      /restored with restoreBoundedLoads/,
    ],
  ];

  it.each(cases)("%s", (_, input, message) => {
    const error = expectError(
      () => restore(input),
      InvalidConfigurationError,
      "HASHRING_INVALID_CONFIG",
      message,
    );
    expect(error.message).toMatch(/^invalid hashring configuration: /);
  });

  it("keeps the underlying error as the cause", () => {
    const error = expectError(
      () =>
        restore({
          format: CONFIG_FORMAT,
          algorithm: "maglev",
          tableSize: 1000,
          autoSize: false,
          nodes: [],
        }),
      InvalidConfigurationError,
      "HASHRING_INVALID_CONFIG",
      /not prime/,
    );
    expect(error.cause).toBeInstanceOf(TableSizeNotPrimeError);
  });

  const bounded = (nodes: unknown, extra: Record<string, unknown> = {}) => ({
    format: CONFIG_FORMAT,
    algorithm: "bounded",
    eps: 0.5,
    pointsPerNode: 20,
    nodes,
    ...extra,
  });
  const boundedCases: [string, unknown, RegExp][] = [
    ["a ring configuration", ring(), /expected algorithm "bounded", got "ring"/],
    [
      "keys that are not an array",
      bounded([{ id: "a", weight: 1, keys: "k" }]),
      /nodes\[0\].keys must be an array/,
    ],
    [
      "a key of the wrong type",
      bounded([{ id: "a", weight: 1, keys: ["k", 5] }]),
      /nodes\[0\].keys\[1\] must be a string or \{"hex": "..."\}/,
    ],
    [
      "bad hex",
      bounded([{ id: "a", weight: 1, keys: [{ hex: "xyz" }] }]),
      /nodes\[0\].keys\[0\].hex must be lowercase hex digit pairs/,
    ],
    [
      "a key placed twice",
      bounded([
        { id: "a", weight: 1, keys: ["k"] },
        { id: "b", weight: 1, keys: ["k"] },
      ]),
      /key "k" is placed twice/,
    ],
    // ceil((1 + 0.1) * 3 keys / 2 nodes) = ceil(1.65) = 2
    [
      "a node over its capacity",
      bounded(
        [
          { id: "a", weight: 1, keys: ["k1", "k2", "k3"] },
          { id: "b", weight: 1, keys: [] },
        ],
        { eps: 0.1 },
      ),
      /node "a" holds 3 keys, above its capacity 2/,
    ],
    ["eps <= 0", bounded([], { eps: 0 }), /eps must be a finite number > 0/],
  ];

  it.each(boundedCases)("restoreBoundedLoads: %s", (_, input, message) => {
    expectError(
      () => restoreBoundedLoads(input),
      InvalidConfigurationError,
      "HASHRING_INVALID_CONFIG",
      message,
    );
  });
});
