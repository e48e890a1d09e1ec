/** Reading a password at the terminal without echoing it. */
import type { PasswordPrompt } from "./connection-flags.js";

const ENTER = new Set(["\r", "\n"]);
const CTRL_C = "\u0003";
const CTRL_D = "\u0004";
const BACKSPACE = new Set(["\u007f", "\b"]);

/** A prompt on this process's terminal, or undefined when standard input is not a terminal. */
export function terminalPasswordPrompt(): PasswordPrompt {
  const stdin = process.stdin;
  if (!stdin.isTTY) return undefined;
  return (question) =>
    new Promise<string>((resolve, reject) => {
      process.stderr.write(question);
      let password = "";
      const finish = (error?: Error) => {
        stdin.off("data", onData);
        stdin.setRawMode(false);
        stdin.pause();
        process.stderr.write("\n");
        if (error === undefined) resolve(password);
        else reject(error);
      };
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString("utf8")) {
          if (ENTER.has(ch) || ch === CTRL_D) return finish();
          if (ch === CTRL_C) return finish(new Error("interrupted"));
          if (BACKSPACE.has(ch)) password = password.slice(0, -1);
          else password += ch;
        }
      };
      stdin.setRawMode(true);
      stdin.resume();
      stdin.on("data", onData);
    });
}
