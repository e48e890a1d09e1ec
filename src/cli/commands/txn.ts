/** `conclave txn`: compare, then run one of two lists of operations, atomically. */
import { readFile } from "node:fs/promises";
import type { TxnOpResult, TxnResult } from "../client-port.js";
import type { CommandDef } from "../command.js";
import type { Output } from "../output.js";
import { printDelete, printPut, printRange } from "./kv.js";
import { parseTxn } from "./txn-parse.js";

function opResultJson(r: TxnOpResult): unknown {
  let captured: unknown;
  const capture: Output = { json: true, write: () => {}, writeJson: (v) => (captured = v) };
  if (r.type === "put") printPut(capture, r);
  else if (r.type === "range") printRange(capture, r);
  else if (r.type === "delete") printDelete(capture, r);
  return { type: r.type, ...(captured as object) };
}

export function printTxn(out: Output, result: TxnResult): void {
  if (out.json) {
    out.writeJson({
      succeeded: result.succeeded,
      revision: result.revision,
      responses: result.responses.map(opResultJson),
    });
    return;
  }
  out.write(result.succeeded ? "SUCCESS\n" : "FAILURE\n");
  for (const r of result.responses) {
    out.write("\n");
    if (r.type === "put") printPut(out, r);
    else if (r.type === "range") printRange(out, r);
    else if (r.type === "delete") printDelete(out, r);
  }
}

export const txnCommand: CommandDef = {
  spec: {
    name: "txn",
    summary:
      "Runs a transaction read from standard input (or --file): if every compare holds, the success operations, else the failure operations, atomically.",
    args: [],
    options: {
      file: {
        type: "string",
        valueName: "FILE",
        description: "read the txn from FILE instead of stdin",
      },
    },
    details: `Input: three sections separated by one blank line each:
  1. compares, one per line: TARGET("KEY") OP VALUE
       TARGET: value, version, create, mod, lease; OP: =, !=, <, >
       VALUE: a quoted string for value, an integer for the others
  2. operations run when every compare holds
  3. operations run otherwise
Operations are put/get/del command lines (same flags as those commands).
Quote words with spaces: "JSON escapes" or 'literal'. Lines starting with # are comments.
Prints SUCCESS or FAILURE, then each operation's result after a blank line.

Example:
  printf 'mod("cfg") = 0\\n\\nput cfg v1\\n\\nget cfg\\n' | conclave txn`,
  },
  async run(ctx, _args, flags) {
    const file = flags.string("file");
    const text = file === undefined ? await ctx.readStdin() : await readFile(file, "utf8");
    const request = parseTxn(text, (m) => flags.fail(m));
    printTxn(ctx.out, await ctx.client().txn(request, ctx.call));
    return 0;
  },
};
