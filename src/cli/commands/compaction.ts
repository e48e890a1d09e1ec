/** `conclave compaction REVISION`, as etcdctl's. */
import { parseInteger } from "../args.js";
import type { CommandDef } from "../command.js";

export const compactionCommand: CommandDef = {
  spec: {
    name: "compaction",
    summary:
      "Drops the key space's history before REVISION: reads and watches from older revisions fail with KV_COMPACTED, and its space is given back.",
    args: [{ name: "REVISION" }],
    options: {},
    details:
      "How room is made after a NOSPACE alarm: delete what is not needed, compact to the\n" +
      "revision the delete answered with, then `conclave alarm disarm`.\n\n" +
      "Example:\n  conclave compaction 1234",
  },
  async run(ctx, [revisionText = ""], flags) {
    const revision = parseInteger(revisionText, "REVISION", 1, Number.MAX_SAFE_INTEGER, (m) =>
      flags.fail(m),
    );
    await ctx.client().compact(revision, ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ compactRevision: revision });
    else ctx.out.write(`compacted revision ${revision}\n`);
    return 0;
  },
};
