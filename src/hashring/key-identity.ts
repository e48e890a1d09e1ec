/**
 * A key's identity for stateful placement: one string per distinct byte
 * sequence, so a string key and its UTF-8 bytes are the same key.
 *
 * - A string is its own identity once lone surrogates are replaced by U+FFFD
 *   (what UTF-8 encoding does to them anyway).
 * - Bytes that are valid UTF-8 are identified by the string they decode to.
 * - Other bytes are identified by U+DC00 followed by their hex digits. A lone
 *   U+DC00 never survives the first rule, so this cannot collide with a string.
 */
import type { HashKey } from "./keys.js";
import { invalidKey } from "./keys.js";

const BYTES_MARK = "\udc00";
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function wellFormed(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      i++;
      continue;
    }
    return replaceLoneSurrogates(text);
  }
  return text;
}

function replaceLoneSurrogates(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += text[i]! + text[i + 1]!;
      i++;
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      out += "\ufffd";
    } else {
      out += text[i]!;
    }
  }
  return out;
}

export function keyIdentity(key: HashKey): string {
  if (typeof key === "string") return wellFormed(key);
  if (!(key instanceof Uint8Array)) throw invalidKey(key);
  try {
    return strictUtf8.decode(key);
  } catch {
    return BYTES_MARK + Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("hex");
  }
}

/** The key an identity stands for: a string, or bytes when they are not UTF-8. */
export function keyOfIdentity(identity: string): HashKey {
  if (identity.startsWith(BYTES_MARK)) {
    return new Uint8Array(Buffer.from(identity.slice(BYTES_MARK.length), "hex"));
  }
  return identity;
}

/** A key as it appears in a JSON configuration. */
export type KeyJson = string | { readonly hex: string };

export function identityToJson(identity: string): KeyJson {
  return identity.startsWith(BYTES_MARK) ? { hex: identity.slice(BYTES_MARK.length) } : identity;
}
