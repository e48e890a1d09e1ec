/** `conclave auth enable | disable | status`. */
import type { CommandDef, CommandGroup } from "../command.js";

const enable: CommandDef = {
  spec: {
    name: "auth enable",
    summary: "Turns authentication on. The cluster refuses unless user root holds role root.",
    args: [],
    options: {},
    details:
      "From then on every call needs a user (--user) or a client certificate,\n" +
      "and is allowed only what the user's roles grant.\n" +
      "Example:\n" +
      "  conclave user add root --new-password-stdin < root-password.txt\n" +
      "  conclave user grant-role root root\n" +
      "  conclave auth enable",
  },
  async run(ctx) {
    await ctx.client().auth.enable(ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ enabled: true });
    else ctx.out.write("Authentication Enabled\n");
    return 0;
  },
};

const disable: CommandDef = {
  spec: {
    name: "auth disable",
    summary: "Turns authentication off (as root): every call is allowed again.",
    args: [],
    options: {},
    details: "Example:\n  conclave auth disable --user root",
  },
  async run(ctx) {
    await ctx.client().auth.disable(ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ enabled: false });
    else ctx.out.write("Authentication Disabled\n");
    return 0;
  },
};

const status: CommandDef = {
  spec: {
    name: "auth status",
    summary: "Shows whether authentication is on, and the auth revision.",
    args: [],
    options: {},
    details: "Example:\n  conclave auth status",
  },
  async run(ctx) {
    const s = await ctx.client().auth.status(ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ enabled: s.enabled, authRevision: s.authRevision });
    else ctx.out.write(`Authentication Status: ${s.enabled}\nAuthRevision: ${s.authRevision}\n`);
    return 0;
  },
};

export const authGroup: CommandGroup = {
  name: "auth",
  summary: "turn authentication on or off, show whether it is on",
  commands: [enable, disable, status],
};
