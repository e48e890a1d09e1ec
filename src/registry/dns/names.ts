import { isIPv4, isIPv6 } from "node:net";
import { InvalidArgumentError } from "../../errors.js";

/**
 * The names the DNS view answers, under one domain (default `conclave.`):
 *
 *   <service>.service.<domain>             A / AAAA / SRV of the served instances
 *   _<service>._tcp.service.<domain>       SRV (RFC 2782 form)
 *   <hex of an IP>.addr.<domain>           A / AAAA: the synthetic SRV target of an
 *                                          instance registered by IP literal, as Consul names it
 */
export type QueryTarget =
  | { readonly kind: "service"; readonly service: string; readonly rfc2782: boolean }
  | { readonly kind: "addr"; readonly address: string; readonly family: 4 | 6 }
  /** The apex or a name with names below it (`service.<domain>`): exists, holds no records. */
  | { readonly kind: "empty" }
  | { readonly kind: "nxdomain" }
  /** Not under the domain: this server answers for no other zone. */
  | { readonly kind: "outside" };

export const DEFAULT_DNS_DOMAIN = "conclave.";

/** A domain's label, and a service name (instance.ts holds service names to one such label). */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Leaves room under the domain for the longest name answered (a 32-digit IPv6 label + addr). */
const MAX_DOMAIN_LENGTH = 200;

/**
 * The domain written as labels, lowercase, without the trailing dot
 * ("conclave." → "conclave"). Throws InvalidArgumentError naming what is wrong.
 */
export function normalizeDomain(value: unknown): string {
  if (typeof value !== "string") {
    throw new InvalidArgumentError(`DNS domain must be a string, got ${typeof value}`);
  }
  const domain = value.toLowerCase().replace(/\.$/, "");
  const labels = domain.split(".");
  if (
    domain.length === 0 ||
    domain.length > MAX_DOMAIN_LENGTH ||
    !labels.every((label) => LABEL.test(label))
  ) {
    throw new InvalidArgumentError(
      `DNS domain must be dot-separated labels of a-z, 0-9 and '-' (at most ${MAX_DOMAIN_LENGTH} characters), got ${JSON.stringify(value)}`,
    );
  }
  return domain;
}

/** Where a query name points; `domain` is normalized, `name` as it came off the wire. */
export function parseQueryName(name: string, domain: string): QueryTarget {
  const lower = name.toLowerCase().replace(/\.$/, "");
  if (lower === domain) return { kind: "empty" };
  if (!lower.endsWith(`.${domain}`)) return { kind: "outside" };
  const labels = lower.slice(0, -(domain.length + 1)).split(".");
  const [first, second, third] = labels;
  if (labels.length === 1 && (first === "service" || first === "addr")) return { kind: "empty" };
  if (labels.length === 2 && second === "service") {
    if (first === "_tcp") return { kind: "empty" };
    return first !== undefined && LABEL.test(first)
      ? { kind: "service", service: first, rfc2782: false }
      : { kind: "nxdomain" };
  }
  if (labels.length === 3 && second === "_tcp" && third === "service") {
    const service = first?.startsWith("_") === true ? first.slice(1) : "";
    return LABEL.test(service) ? { kind: "service", service, rfc2782: true } : { kind: "nxdomain" };
  }
  if (labels.length === 2 && second === "addr" && first !== undefined) {
    const address = addressFromHex(first);
    return address ?? { kind: "nxdomain" };
  }
  return { kind: "nxdomain" };
}

/** The synthetic name an SRV answer gives an instance registered by IP literal. */
export function addrName(address: string, domain: string): string {
  const hex = hexOfAddress(address);
  if (hex === undefined) throw new InvalidArgumentError(`not an IP literal: ${address}`);
  return `${hex}.addr.${domain}`;
}

/** 8 hex digits for IPv4, 32 for IPv6; undefined for anything that is not an IP literal. */
export function hexOfAddress(address: string): string | undefined {
  if (isIPv4(address)) {
    return address
      .split(".")
      .map((octet) => Number(octet).toString(16).padStart(2, "0"))
      .join("");
  }
  if (isIPv6(address) && !address.includes("%")) return ipv6Groups(address)?.join("");
  return undefined;
}

function addressFromHex(label: string): QueryTarget | undefined {
  if (/^[0-9a-f]{8}$/.test(label)) {
    const octets = label.match(/../g)?.map((pair) => Number.parseInt(pair, 16)) ?? [];
    return { kind: "addr", address: octets.join("."), family: 4 };
  }
  if (/^[0-9a-f]{32}$/.test(label)) {
    const groups = label.match(/.{4}/g) ?? [];
    return { kind: "addr", address: groups.join(":"), family: 6 };
  }
  return undefined;
}

/** The eight 4-digit groups of an IPv6 literal (`::` expanded, a dotted IPv4 tail converted). */
function ipv6Groups(address: string): string[] | undefined {
  let text = address.toLowerCase();
  const dotted = /(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(text);
  if (dotted?.[1] !== undefined) {
    const octets = dotted[1].split(".").map(Number);
    const high = (((octets[0] ?? 0) << 8) | (octets[1] ?? 0)).toString(16);
    const low = (((octets[2] ?? 0) << 8) | (octets[3] ?? 0)).toString(16);
    text = `${text.slice(0, -dotted[1].length)}${high}:${low}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" || halves[0] === undefined ? [] : halves[0].split(":");
  const tail = halves.length === 2 && halves[1] !== "" ? (halves[1] ?? "").split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  return groups.map((group) => group.padStart(4, "0"));
}

/** An address usable as an SRV target name (a host name, not an IP literal). */
export function isHostName(address: string): boolean {
  if (isIPv4(address) || isIPv6(address)) return false;
  const name = address.replace(/\.$/, "");
  return (
    name.length > 0 &&
    name.length <= 253 &&
    name.split(".").every((label) => /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(label))
  );
}
