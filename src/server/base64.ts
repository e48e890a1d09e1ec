import { BadRequestError } from "./errors.js";

const PAD = 61; // "="

/** `text` without its trailing "=" padding. */
function unpad(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === PAD) end--;
  return end === text.length ? text : text.slice(0, end);
}

/**
 * Decodes standard base64 strictly (padding optional): Buffer's own decoder
 * silently skips junk characters and takes the URL-safe "-" and "_", which
 * would store a different key than the client meant. A value of megabytes
 * is checked without a copy of its text: the decoder skips junk, so the
 * decoded length falls short of what the text's length implies; "-", "_"
 * and a "=" before the padding are searched for natively; and the last,
 * partial group must encode back to the same characters (canonical trailing
 * bits). The regular expression only names the fault of bad input.
 */
export function decodeBase64(text: string, field: string): Uint8Array {
  const unpadded = unpad(text);
  const n = unpadded.length;
  const bytes = Buffer.from(text, "base64");
  const valid =
    text.length - n <= 2 &&
    n % 4 !== 1 &&
    bytes.byteLength === Math.floor((n * 3) / 4) &&
    !unpadded.includes("=") &&
    !unpadded.includes("-") &&
    !unpadded.includes("_");
  if (!valid) throw new BadRequestError(`${field} is not valid base64`);
  const partial = n % 4;
  if (partial !== 0) {
    const last = bytes.subarray(bytes.byteLength - (partial - 1));
    if (unpad(last.toString("base64")) !== unpadded.slice(n - partial)) {
      throw new BadRequestError(`${field} is not valid base64 (non-canonical trailing bits)`);
    }
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
