/** The real `dig` (Debian's dnsutils, installed by .ci/services.sh), asked and its output read. */
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface DigAnswer {
  readonly status: string;
  readonly flags: readonly string[];
  /** "name ttl class type data" with single spaces. */
  readonly answers: readonly string[];
  readonly authority: readonly string[];
  readonly additional: readonly string[];
  /** UDP or TCP: how the answer came. */
  readonly server: string;
}

/** Fails loudly, saying how to install it, when dig is missing. */
export function requireDig(): void {
  const dig = spawnSync("dig", ["-v"], { encoding: "utf8" });
  if (dig.error !== undefined || dig.status !== 0) {
    throw new Error(
      "dig is not installed: these tests need it (apt-get install dnsutils, or run `bash .ci/services.sh` as root)",
    );
  }
}

function section(output: string, title: string): string[] {
  const start = output.indexOf(`;; ${title} SECTION:\n`);
  if (start === -1) return [];
  const body = output.slice(start).split("\n").slice(1);
  const end = body.findIndex((line) => line.trim() === "");
  return body.slice(0, end === -1 ? body.length : end).map((l) => l.split(/\s+/).join(" "));
}

/** `dig @127.0.0.1 -p port [options] name type`, without recursion. */
export async function dig(
  port: number,
  name: string,
  type: string,
  ...options: string[]
): Promise<DigAnswer> {
  const { stdout } = await run(
    "dig",
    ["@127.0.0.1", "-p", String(port), "+norec", "+time=2", "+tries=2", ...options, name, type],
    { timeout: 20_000 },
  );
  const status = /status: ([A-Z]+)/.exec(stdout)?.[1];
  const flags = /;; flags: ([^;]*);/.exec(stdout)?.[1];
  if (status === undefined || flags === undefined) throw new Error(`dig said:\n${stdout}`);
  return {
    status,
    flags: flags.trim().split(" "),
    answers: section(stdout, "ANSWER"),
    authority: section(stdout, "AUTHORITY"),
    additional: section(stdout, "ADDITIONAL"),
    server: /;; SERVER: .*\((UDP|TCP)\)/.exec(stdout)?.[1] ?? "",
  };
}

/** The data fields of answer lines, sorted. */
export const recordData = (lines: readonly string[]): string[] =>
  lines.map((l) => l.split(" ").slice(4).join(" ")).sort();
