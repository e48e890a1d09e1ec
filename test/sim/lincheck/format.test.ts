import { describe, expect, it } from "vitest";
import {
  checkLinearizability,
  formatCheckResult,
  formatHistory,
  type KvOperation,
  kvModel,
} from "../../../src/sim/lincheck/index.js";

const staleRead: KvOperation[] = [
  { id: 1, clientId: 1, call: 0, ret: 10, input: { op: "put", key: "x", value: "a" }, output: {} },
  { id: 2, clientId: 2, call: 12, ret: 20, input: { op: "put", key: "x", value: "b" }, output: {} },
  { id: 3, clientId: 2, call: 22, input: { op: "put", key: "x", value: "lost" } },
  { id: 4, clientId: 3, call: 25, ret: 30, input: { op: "get", key: "x" }, output: { value: "a" } },
  {
    id: 5,
    clientId: 1,
    call: 14,
    ret: 40,
    input: { op: "get", key: "y" },
    output: { value: null },
  },
];

describe("formatCheckResult", () => {
  it("explains a violation with the prefix, the stuck operation and per-client timelines", () => {
    const result = checkLinearizability(kvModel, staleRead);
    expect(formatCheckResult(kvModel, result).split("\n")).toEqual([
      `not linearizable: key "x" (4 operations; ${result.steps} search steps)`,
      "longest linearizable prefix (2 operations):",
      '  1. #1 client 1: put("x", "a") -> ok   state {"x": "a"}',
      '  2. #2 client 2: put("x", "b") -> ok   state {"x": "b"}',
      'cannot continue: #4 client 3: get("x") -> "a" [25 .. 30]',
      "  had returned, so it or an operation concurrent with it must come next, and none fits;",
      '  #4 itself is illegal in state {"x": "b"}',
      "  also tried next:",
      '    #3 client 2: put("x", "lost") -> ? (outcome unknown)',
      'history of key "x" by client:',
      "client 1",
      '  #1 [ 0 .. 10]  |==============                          |  put("x", "a") -> ok  <- linearized 1',
      "client 2",
      '  #2 [12 .. 20]  |                ===========             |  put("x", "b") -> ok  <- linearized 2',
      '  #3 [22 ..  ?]  |                             ==========>|  put("x", "lost") -> ? (outcome unknown)',
      "client 3",
      '  #4 [25 .. 30]  |                                 =======|  get("x") -> "a"  <- cannot be placed',
    ]);
  });

  it("summarises success and undecided checks in one line", () => {
    const ok = checkLinearizability(kvModel, staleRead.slice(0, 3));
    expect(formatCheckResult(kvModel, ok)).toBe(
      `linearizable (1 partition; ${ok.steps} search steps)`,
    );
    const undecided = checkLinearizability(kvModel, staleRead, { maxSteps: 3 });
    expect(formatCheckResult(kvModel, undecided)).toBe(
      'linearizability undecided: step bound of 3 reached while checking key "x" (4 search steps)',
    );
  });

  it("shows the original values even where the search used simplified ones", () => {
    // "unread" is never observed, so the search replaces it with a stand-in;
    // the report must still name it.
    const history: KvOperation[] = [
      { clientId: 1, call: 0, ret: 1, input: { op: "put", key: "k", value: "unread" }, output: {} },
      { clientId: 2, call: 2, ret: 3, input: { op: "get", key: "k" }, output: { value: null } },
    ];
    const report = formatCheckResult(kvModel, checkLinearizability(kvModel, history));
    expect(report).toContain('#0 client 1: put("k", "unread") -> ok   state {"k": "unread"}');
    expect(report).toContain('#1 itself is illegal in state {"k": "unread"}');
  });
});

describe("formatHistory", () => {
  it("lists each client's operations in call order, without a bar when asked", () => {
    const text = formatHistory(kvModel, [staleRead[4]!, staleRead[2]!, staleRead[0]!], {
      barWidth: 0,
    });
    expect(text.split("\n")).toEqual([
      "client 1",
      '  #1 [ 0 .. 10]  put("x", "a") -> ok',
      '  #5 [14 .. 40]  get("y") -> (absent)',
      "client 2",
      '  #3 [22 ..  ?]  put("x", "lost") -> ? (outcome unknown)',
    ]);
  });

  it("numbers operations by position when they carry no id", () => {
    const text = formatHistory(
      kvModel,
      staleRead.map(({ id: _id, ...op }) => op),
      { barWidth: 0 },
    );
    expect(text).toContain('  #3 [25 .. 30]  get("x") -> "a"');
  });

  it("says so for an empty history", () => {
    expect(formatHistory(kvModel, [])).toBe("(empty history)");
  });
});
