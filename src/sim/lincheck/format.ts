import type { CheckResult, IdentifiedOperation, IllegalResult, Model, Operation } from "./types.js";

export interface FormatHistoryOptions {
  /** Text appended to an operation's line, by operation id. */
  readonly marks?: ReadonlyMap<number, string>;
  /** Columns of the time bar; 0 leaves the bar out. Default 40. */
  readonly barWidth?: number;
}

const BAR_WIDTH = 40;

function timeBar(op: Operation<unknown, unknown>, start: number, end: number, width: number) {
  const span = end - start || 1;
  const column = (t: number) => Math.min(width - 1, Math.floor(((t - start) / span) * width));
  const from = column(op.call);
  const to = op.ret === undefined ? width - 1 : column(op.ret);
  const cells: string[] = [];
  for (let i = 0; i < width; i++) cells.push(i >= from && i <= to ? "=" : " ");
  if (op.ret === undefined) cells[width - 1] = ">";
  return `|${cells.join("")}|`;
}

/**
 * Renders a history as one timeline per client, operations in call order,
 * each with its interval, a bar placing it in time against the others, and
 * its description. Operations with an unknown outcome show `?` as return time
 * and a bar running off the right edge.
 */
export function formatHistory<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
  options: FormatHistoryOptions = {},
): string {
  const width = options.barWidth ?? BAR_WIDTH;
  if (history.length === 0) return "(empty history)";
  const ops = history.map((op, index) => ({ op, id: op.id ?? index }));
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const { op } of ops) {
    start = Math.min(start, op.call);
    end = Math.max(end, op.ret ?? op.call);
  }
  const timeWidth = Math.max(String(start).length, String(end).length, 1);
  const idWidth = Math.max(...ops.map(({ id }) => String(id).length)) + 1;
  const byClient = new Map<number, typeof ops>();
  for (const entry of ops) {
    const list = byClient.get(entry.op.clientId) ?? [];
    list.push(entry);
    byClient.set(entry.op.clientId, list);
  }
  const lines: string[] = [];
  for (const clientId of [...byClient.keys()].sort((a, b) => a - b)) {
    lines.push(`client ${clientId}`);
    const list = byClient.get(clientId)!.sort((a, b) => a.op.call - b.op.call || a.id - b.id);
    for (const { op, id } of list) {
      const ret = op.ret === undefined ? "?" : String(op.ret);
      const interval = `[${String(op.call).padStart(timeWidth)} .. ${ret.padStart(timeWidth)}]`;
      const bar = width > 0 ? `  ${timeBar(op, start, end, width)}` : "";
      const mark = options.marks?.get(id);
      const description = model.describeOperation(op.input, op.output);
      lines.push(
        `  ${`#${id}`.padEnd(idWidth)} ${interval}${bar}  ${description}${mark ? `  ${mark}` : ""}`,
      );
    }
  }
  return lines.join("\n");
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function describe<State, Input, Output>(
  model: Model<State, Input, Output>,
  op: IdentifiedOperation<Input, Output>,
): string {
  return `#${op.id} client ${op.clientId}: ${model.describeOperation(op.input, op.output)}`;
}

function formatIllegal<State, Input, Output>(
  model: Model<State, Input, Output>,
  result: IllegalResult<Input, Output>,
  options: FormatHistoryOptions,
): string {
  const lines: string[] = [];
  lines.push(
    `not linearizable: ${result.partition} (${plural(result.operations.length, "operation")}; ${result.steps} search steps)`,
  );
  if (result.longestPrefix.length === 0) {
    lines.push(`no operation can be linearized first; initial state ${result.stateAfterPrefix}`);
  } else {
    lines.push(
      `longest linearizable prefix (${plural(result.longestPrefix.length, "operation")}):`,
    );
    const numberWidth = String(result.longestPrefix.length).length;
    result.longestPrefix.forEach((step, i) => {
      lines.push(
        `  ${String(i + 1).padStart(numberWidth)}. ${describe(model, step.operation)}   state ${step.stateAfter}`,
      );
    });
  }
  const stuck = result.stuckOperation;
  lines.push(`cannot continue: ${describe(model, stuck)} [${stuck.call} .. ${stuck.ret}]`);
  lines.push(
    "  had returned, so it or an operation concurrent with it must come next, and none fits;",
  );
  lines.push(
    result.stuckOperationLegalAfterPrefix
      ? `  #${stuck.id} itself is legal next, but every continuation from there fails`
      : `  #${stuck.id} itself is illegal in state ${result.stateAfterPrefix}`,
  );
  const others = result.candidates.filter((op) => op.id !== stuck.id);
  if (others.length > 0) {
    lines.push("  also tried next:");
    for (const op of others) lines.push(`    ${describe(model, op)}`);
  }
  const marks = new Map<number, string>(options.marks ?? []);
  result.longestPrefix.forEach((step, i) => {
    marks.set(step.operation.id, `<- linearized ${i + 1}`);
  });
  marks.set(stuck.id, "<- cannot be placed");
  lines.push(`history of ${result.partition} by client:`);
  lines.push(formatHistory(model, result.operations, { ...options, marks }));
  return lines.join("\n");
}

/** A readable report of a check's result, for a simulator's failure output. */
export function formatCheckResult<State, Input, Output>(
  model: Model<State, Input, Output>,
  result: CheckResult<Input, Output>,
  options: FormatHistoryOptions = {},
): string {
  switch (result.result) {
    case "ok":
      return `linearizable (${plural(result.partitions, "partition")}; ${result.steps} search steps)`;
    case "unknown":
      return `linearizability undecided: ${result.reason} (${result.steps} search steps)`;
    case "illegal":
      return formatIllegal(model, result, options);
  }
}
