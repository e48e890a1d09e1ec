/** `conclave user add | get | list | delete | passwd | grant-role | revoke-role`. */
import type { Flags } from "../args.js";
import type { CommandContext, CommandDef, CommandGroup } from "../command.js";

const nameArg = [{ name: "NAME" }];

const newPasswordStdin = {
  type: "boolean",
  description: "read the new password from standard input (its first line)",
} as const;

/**
 * The new password for a user: the first line of standard input with
 * --new-password-stdin, else typed twice at the terminal. Never from argv,
 * where other users of the machine could read it.
 */
async function newPassword(ctx: CommandContext, flags: Flags, name: string): Promise<string> {
  if (flags.bool("new-password-stdin")) {
    const password = (await ctx.readStdin()).split(/\r?\n/, 1)[0] ?? "";
    if (password === "") flags.fail("standard input holds no password");
    return password;
  }
  const prompt = ctx.promptPassword;
  if (prompt === undefined) {
    flags.fail("standard input is not a terminal: give the password with --new-password-stdin");
  }
  const password = await prompt(`Password of ${name}: `);
  if (password === "") flags.fail("the password is empty");
  if ((await prompt(`Type the password of ${name} again: `)) !== password) {
    flags.fail("the passwords do not match");
  }
  return password;
}

const add: CommandDef = {
  spec: {
    name: "user add",
    summary: "Creates a user with a password, or one that only a client certificate can log in as.",
    args: nameArg,
    options: {
      "new-password-stdin": newPasswordStdin,
      "no-password": {
        type: "boolean",
        description: "no password: the user is known only by a TLS client certificate (CN = NAME)",
      },
    },
    details:
      "Without either flag, the password is asked for at the terminal.\n" +
      "Example:\n  printf '%s\\n' \"$PW\" | conclave user add alice --new-password-stdin",
  },
  async run(ctx, [name = ""], flags) {
    flags.exclusive("new-password-stdin", "no-password");
    const options = flags.bool("no-password")
      ? { noPassword: true }
      : { password: await newPassword(ctx, flags, name) };
    await ctx.client().auth.userAdd(name, { ...options, ...ctx.call });
    if (ctx.out.json) ctx.out.writeJson({ user: name, created: true });
    else ctx.out.write(`User ${name} created\n`);
    return 0;
  },
};

const get: CommandDef = {
  spec: {
    name: "user get",
    summary: "Shows a user's roles.",
    args: nameArg,
    options: {},
    details: "Example:\n  conclave user get alice",
  },
  async run(ctx, [name = ""]) {
    const { roles } = await ctx.client().auth.userGet(name, ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ user: name, roles });
    else ctx.out.write(`User: ${name}\nRoles: ${roles.join(" ")}\n`);
    return 0;
  },
};

const list: CommandDef = {
  spec: {
    name: "user list",
    summary: "Lists every user.",
    args: [],
    options: {},
    details: "Example:\n  conclave user list",
  },
  async run(ctx) {
    const { users } = await ctx.client().auth.userList(ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ users });
    else ctx.out.write(users.map((u) => `${u}\n`).join(""));
    return 0;
  },
};

const del: CommandDef = {
  spec: {
    name: "user delete",
    summary: "Deletes a user; tokens issued to it stop working.",
    args: nameArg,
    options: {},
    details: "Example:\n  conclave user delete alice",
  },
  async run(ctx, [name = ""]) {
    await ctx.client().auth.userDelete(name, ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ user: name, deleted: true });
    else ctx.out.write(`User ${name} deleted\n`);
    return 0;
  },
};

const passwd: CommandDef = {
  spec: {
    name: "user passwd",
    summary: "Changes a user's password; tokens issued before stop working.",
    args: nameArg,
    options: { "new-password-stdin": newPasswordStdin },
    details:
      "Without --new-password-stdin, the password is asked for at the terminal.\n" +
      "Example:\n  conclave user passwd alice --user root",
  },
  async run(ctx, [name = ""], flags) {
    const password = await newPassword(ctx, flags, name);
    await ctx.client().auth.userChangePassword(name, password, ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ user: name, passwordChanged: true });
    else ctx.out.write(`Password of ${name} updated\n`);
    return 0;
  },
};

function roleChange(verb: "grant-role" | "revoke-role"): CommandDef {
  const granting = verb === "grant-role";
  return {
    spec: {
      name: `user ${verb}`,
      summary: granting ? "Gives a user a role." : "Takes a role from a user.",
      args: [{ name: "USER" }, { name: "ROLE" }],
      options: {},
      details: `Example:\n  conclave user ${verb} alice app`,
    },
    async run(ctx, [user = "", role = ""]) {
      const auth = ctx.client().auth;
      if (granting) await auth.userGrantRole(user, role, ctx.call);
      else await auth.userRevokeRole(user, role, ctx.call);
      if (ctx.out.json) ctx.out.writeJson({ user, role, granted: granting });
      else
        ctx.out.write(
          granting
            ? `Role ${role} is granted to user ${user}\n`
            : `Role ${role} is revoked from user ${user}\n`,
        );
      return 0;
    },
  };
}

export const userGroup: CommandGroup = {
  name: "user",
  summary: "add, inspect and delete users; change passwords; grant and revoke roles",
  commands: [add, get, list, del, passwd, roleChange("grant-role"), roleChange("revoke-role")],
};
