/**
 * A lock name as one path segment of an etcd key or a znode path: "/" must
 * not split it (names "a" and "a/b" would share a prefix), and "." or ".."
 * are not valid znode names. Percent-encoding (plus "." itself) is
 * injective, so distinct names never collide, and stays readable.
 */
export function nameSegment(name: string): string {
  return encodeURIComponent(name).replaceAll(".", "%2E");
}
