import { BadRequestError } from "./errors.js";

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes standard base64 strictly (padding optional): Buffer's own decoder
 * silently skips junk characters, which would store a different key than the
 * client meant.
 */
export function decodeBase64(text: string, field: string): Uint8Array {
  const unpadded = text.replace(/=+$/, "");
  if (!BASE64.test(text) || unpadded.length % 4 === 1) {
    throw new BadRequestError(`${field} is not valid base64`);
  }
  const bytes = Buffer.from(text, "base64");
  if (bytes.toString("base64").replace(/=+$/, "") !== unpadded) {
    throw new BadRequestError(`${field} is not valid base64 (non-canonical trailing bits)`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
