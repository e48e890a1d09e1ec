/** Runs a client command with this process's stdio, environment and signals. */
import { clientCommandsHelp, isClientCommand, runClientCommand } from "./client-commands.js";

export { isClientCommand };

import { connect } from "./connect.js";
import { terminalPasswordPrompt } from "./password-prompt.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export const CLIENT_HELP = `
Client commands (conclave COMMAND --help for each; global flags --endpoints, --timeout, --json,
--user, --cacert, --cert, --key):
${clientCommandsHelp()}`;

export async function runClientProcess(argv: readonly string[]): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => stop.abort(new Error("interrupted"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await runClientCommand(argv, {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      env: process.env,
      readStdin,
      connect,
      signal: stop.signal,
      promptPassword: terminalPasswordPrompt(),
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
