#!/usr/bin/env node
// The `conclave` command. It runs the compiled CLI in dist/; in a git checkout
// that has not been built yet (npx conclave, npm link) it says how to build it.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cli = new URL("../dist/cli/main.js", import.meta.url);
if (existsSync(fileURLToPath(cli))) {
  await import(cli.href);
} else {
  const root = fileURLToPath(new URL("..", import.meta.url));
  process.stderr.write(
    `conclave: the command is not built yet (${fileURLToPath(cli)} is missing).\n` +
      `In the checkout (${root}) run:\n` +
      "  npm ci && npm run build\n" +
      "then npx conclave, or npm link to put conclave on your PATH.\n" +
      "Without building: npm start (a local cluster) or npx tsx src/cli/main.ts <command>.\n",
  );
  process.exitCode = 1;
}
