/** Keys and values go in as text (UTF-8) or raw bytes. */
export type Bytes = string | Uint8Array;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toBytes(value: Bytes): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}

export function bytesToString(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function toBase64(value: Bytes): string {
  const b = toBytes(value);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
}

export function fromBase64(text: string): Uint8Array {
  const b = Buffer.from(text, "base64");
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * The range end that covers every key starting with `prefix`: the prefix with
 * its last byte below 0xff incremented and the rest cut off. A prefix of only
 * 0xff bytes (or empty) has no such end: [0x00] means "every key >= key".
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = prefix[i]! + 1;
      return end;
    }
  }
  return new Uint8Array([0]);
}

/**
 * The first key of a range from `key` to an end: an empty key is no key, so
 * a range from "" (every key with the empty prefix, every key >= "") starts
 * at 0x00, as etcd's own clients send it.
 */
export function rangeStart(key: Uint8Array): Uint8Array {
  return key.length === 0 ? new Uint8Array([0]) : key;
}
