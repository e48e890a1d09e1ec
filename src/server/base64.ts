import { BadRequestError } from "./errors.js";

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const PAD = 61; // "="

/** `text` without its trailing "=" padding. */
function unpad(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === PAD) end--;
  return end === text.length ? text : text.slice(0, end);
}

/**
 * Decodes standard base64 strictly (padding optional): Buffer's own decoder
 * silently skips junk characters, which would store a different key than the
 * client meant. The check is that the bytes encode back to the same text
 * (padding aside): native work only, so a value of megabytes costs a few
 * milliseconds; the regular expression only names the fault of bad input.
 */
export function decodeBase64(text: string, field: string): Uint8Array {
  const unpadded = unpad(text);
  const bytes = Buffer.from(text, "base64");
  if (text.length - unpadded.length > 2 || unpad(bytes.toString("base64")) !== unpadded) {
    if (!BASE64.test(text) || unpadded.length % 4 === 1) {
      throw new BadRequestError(`${field} is not valid base64`);
    }
    throw new BadRequestError(`${field} is not valid base64 (non-canonical trailing bits)`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
