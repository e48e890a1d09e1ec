/**
 * A child process's side of the line protocol: JSON messages on stdout,
 * commands on stdin, one a line. An error ends the child with code 1.
 */
import { createInterface } from "node:readline";
import type { ChildMessage } from "./plan.js";

export function send(message: ChildMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** The one JSON argument the parent passed. */
export function childArgs<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error("expected one JSON argument");
  return JSON.parse(raw) as T;
}

/** Calls `onCommand` for each line on stdin; the child exits when stdin closes (the parent went away). */
export function onCommands(onCommand: (command: string) => void): void {
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => onCommand(line.trim()));
  lines.on("close", () => process.exit(0));
}

export function fail(error: unknown): never {
  send({ type: "error", error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
