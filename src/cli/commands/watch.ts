/** `conclave watch`: prints changes to a key or range until interrupted. */
import type { WatchEventView, WatchOptions } from "../client-port.js";
import type { CommandDef } from "../command.js";
import { kvJson, kvLines, type Output } from "../output.js";

export function printWatchEvent(out: Output, revision: number, event: WatchEventView): void {
  const type = event.type.toUpperCase();
  if (out.json) {
    out.writeJson({
      type,
      revision,
      kv: kvJson(event.kv),
      ...(event.prevKv !== undefined && { prevKv: kvJson(event.prevKv) }),
    });
    return;
  }
  out.write(`${type}\n`);
  if (event.prevKv !== undefined) out.write(kvLines(event.prevKv));
  // A delete has no value to show.
  out.write(kvLines(event.kv, type === "DELETE"));
}

export const watchCommand: CommandDef = {
  spec: {
    name: "watch",
    summary:
      "Prints every change to KEY (or a range) until interrupted (Ctrl-C). Each event: its type (PUT or DELETE), then the key, then the value (puts only); with --prev-kv the previous key and value come between type and key.",
    args: [{ name: "KEY" }],
    options: {
      prefix: { type: "boolean", description: "watch every key starting with KEY" },
      "range-end": {
        type: "string",
        valueName: "END",
        description: "watch every key in [KEY, END)",
      },
      "from-key": { type: "boolean", description: "watch every key >= KEY" },
      rev: {
        type: "string",
        valueName: "R",
        description: "start at revision R (replays history from there)",
      },
      "prev-kv": { type: "boolean", description: "include each key's previous value" },
    },
    details:
      "With --json, one JSON line per event: {type, revision, kv, prevKv?}.\n" +
      "A dropped connection is resumed (on any endpoint) from the revision after the last one printed, so no event is lost or repeated.\n" +
      "Example:\n  conclave watch app/ --prefix --prev-kv",
  },
  async run(ctx, [key = ""], flags) {
    flags.exclusive("prefix", "range-end", "from-key");
    const rev = flags.int("rev", 0);
    const end = flags.string("range-end");
    const options: WatchOptions = {
      signal: ctx.signal,
      ...(flags.bool("prefix") && { prefix: true }),
      ...(end !== undefined && { rangeEnd: end }),
      ...(flags.bool("from-key") && { rangeEnd: new Uint8Array([0]) }),
      ...(rev !== undefined && rev > 0 && { startRevision: rev }),
      ...(flags.bool("prev-kv") && { prevKv: true }),
    };
    try {
      for await (const batch of ctx.client().watch(key, options)) {
        for (const event of batch.events) printWatchEvent(ctx.out, batch.revision, event);
      }
    } catch (err) {
      if (ctx.signal.aborted) return 0;
      throw err;
    }
    return 0;
  },
};
