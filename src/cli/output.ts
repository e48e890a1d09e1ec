/**
 * How the client commands print: keys and values as text when they are
 * printable UTF-8 and as marked base64 otherwise, tables for lists, and one
 * JSON document per result (one line per watch event) with `--json`.
 */
import type { KeyValueView } from "./client-port.js";

export interface Output {
  readonly json: boolean;
  /** Writes to stdout as is. */
  write(text: string): void;
  /** Writes one JSON document on one line. */
  writeJson(value: unknown): void;
}

export function createOutput(json: boolean, stdout: (text: string) => void): Output {
  return {
    json,
    write: stdout,
    writeJson: (value) => stdout(`${JSON.stringify(value)}\n`),
  };
}

/** Shown before bytes that are not printable text; the rest of the line is base64. */
export const BASE64_MARK = "(base64) ";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The bytes as text when they are valid UTF-8, else undefined. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

// C0 and C1 controls other than tab, newline and carriage return, plus DEL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** Text a terminal shows faithfully: valid UTF-8 without control characters (tab and newlines allowed). */
export function printableText(bytes: Uint8Array): string | undefined {
  const text = decodeUtf8(bytes);
  return text !== undefined && !CONTROL.test(text) ? text : undefined;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Bytes for people: the text itself, or `(base64) ...` when not printable. */
export function displayBytes(bytes: Uint8Array): string {
  return printableText(bytes) ?? `${BASE64_MARK}${toBase64(bytes)}`;
}

/**
 * Bytes for machines, lossless: `{ [name]: text }` when valid UTF-8, else
 * `{ [name + "Base64"]: base64 }`.
 */
export function bytesJson(name: string, bytes: Uint8Array): Record<string, string> {
  const text = decodeUtf8(bytes);
  return text !== undefined ? { [name]: text } : { [`${name}Base64`]: toBase64(bytes) };
}

export function kvJson(kv: KeyValueView): Record<string, unknown> {
  return {
    ...bytesJson("key", kv.key),
    ...bytesJson("value", kv.value),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    lease: kv.lease,
  };
}

/** etcdctl's simple form: the key on one line, the value on the next. */
export function kvLines(kv: KeyValueView, keysOnly = false): string {
  return keysOnly
    ? `${displayBytes(kv.key)}\n`
    : `${displayBytes(kv.key)}\n${displayBytes(kv.value)}\n`;
}

/** A plain-text table with a header row, columns padded to their widest cell. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}
