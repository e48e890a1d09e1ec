/**
 * An id from a request message (int64 or uint64, decoded as a decimal
 * string) as Conclave can hold it: 1 ≤ id < 2^53, since the store keeps ids
 * as numbers. Undefined for 0, negative ids and ids at or above 2^53: nothing
 * here can have one, so a call naming one gets etcd's answer for an unknown id.
 */
export function heldId(value: unknown): string | undefined {
  if (typeof value !== "string" && typeof value !== "number") return undefined;
  const text = String(value);
  if (!/^[0-9]{1,16}$/.test(text)) return undefined;
  const id = Number(text);
  return Number.isSafeInteger(id) && id > 0 ? String(id) : undefined;
}
