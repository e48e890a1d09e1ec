import { isIPv4, isIPv6 } from "node:net";

/**
 * The key that per-client limits (connections, watchers) count under.
 *
 * An authenticated request counts under its user. An anonymous one counts
 * under the host it came from, with the whole loopback range as one host
 * (binding 127.0.x.y source addresses must not multiply a local client's
 * quota) and an IPv6 client by its /64, the block one host is usually given.
 */
export function clientIdentity(
  user: string | undefined,
  remoteAddress: string | undefined,
): string {
  if (user !== undefined) return `user:${user}`;
  return `host:${hostKey(remoteAddress)}`;
}

export function hostKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return "unknown";
  const mapped = remoteAddress.startsWith("::ffff:") ? remoteAddress.slice(7) : remoteAddress;
  if (isIPv4(mapped)) return mapped.startsWith("127.") ? "loopback" : mapped;
  if (isIPv6(mapped)) {
    if (mapped === "::1") return "loopback";
    return `${expandIPv6(mapped).slice(0, 4).join(":")}::/64`;
  }
  return mapped;
}

function expandIPv6(address: string): string[] {
  const withoutZone = address.split("%")[0] ?? address;
  const [head = "", tail] = withoutZone.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = 8 - left.length - right.length;
  return [...left, ...Array.from({ length: Math.max(0, missing) }, () => "0"), ...right].map(
    (group) => group.toLowerCase().replace(/^0+(?=.)/, ""),
  );
}
