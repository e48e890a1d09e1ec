import { InvalidArgumentError } from "../errors.js";
import type { ServiceInstance } from "./instance.js";

/**
 * Where registrations live in the key space:
 *
 *   <root>services/<service>/<id>        the instance record (JSON, see instance.ts)
 *   <namingPrefix><service>/<host:port>  etcd's naming format, {"Op":0,"Addr":…,"Metadata":…},
 *                                        present only while the instance is served
 *
 * An ephemeral instance's keys are attached to its lease, so they vanish
 * when the registering process stops keeping it alive. Go's etcd resolver
 * reads the second form with the target `etcd:///<namingPrefix><service>`.
 */
export interface RegistryLayout {
  /** Default "/conclave/registry/". */
  readonly root: string;
  /** Default "services/"; "" disables the naming-format copy. */
  readonly namingPrefix: string;
}

export const DEFAULT_LAYOUT: RegistryLayout = {
  root: "/conclave/registry/",
  namingPrefix: "services/",
};

export function validateLayout(layout: Partial<RegistryLayout> = {}): RegistryLayout {
  const root = layout.root ?? DEFAULT_LAYOUT.root;
  const namingPrefix = layout.namingPrefix ?? DEFAULT_LAYOUT.namingPrefix;
  if (typeof root !== "string" || root.length === 0 || !root.endsWith("/")) {
    throw new InvalidArgumentError(
      `registry root must be a non-empty prefix ending in '/', got ${JSON.stringify(root)}`,
    );
  }
  if (typeof namingPrefix !== "string" || (namingPrefix !== "" && !namingPrefix.endsWith("/"))) {
    throw new InvalidArgumentError(
      `namingPrefix must be "" or end in '/', got ${JSON.stringify(namingPrefix)}`,
    );
  }
  if (namingPrefix !== "" && (namingPrefix.startsWith(root) || root.startsWith(namingPrefix))) {
    throw new InvalidArgumentError(
      "namingPrefix and the registry root must not contain each other",
    );
  }
  return { root, namingPrefix };
}

/** Every registration of every service. */
export function allServicesPrefix(layout: RegistryLayout): string {
  return `${layout.root}services/`;
}

/** Every instance of one service. */
export function servicePrefix(layout: RegistryLayout, service: string): string {
  return `${allServicesPrefix(layout)}${service}/`;
}

export function instanceKey(layout: RegistryLayout, service: string, id: string): string {
  return `${servicePrefix(layout, service)}${id}`;
}

/** host:port, with an IPv6 literal in brackets. */
export function instanceAddr(instance: Pick<ServiceInstance, "address" | "port">): string {
  return instance.address.includes(":")
    ? `[${instance.address}]:${instance.port}`
    : `${instance.address}:${instance.port}`;
}

/** The naming-format key, or undefined when the copy is disabled. */
export function namingKey(layout: RegistryLayout, instance: ServiceInstance): string | undefined {
  if (layout.namingPrefix === "") return undefined;
  return `${layout.namingPrefix}${instance.service}/${instanceAddr(instance)}`;
}

/** The naming-format value etcd's resolvers read. */
export function namingValue(instance: ServiceInstance): string {
  return JSON.stringify({ Op: 0, Addr: instanceAddr(instance), Metadata: instance.metadata });
}

/** Splits an instance key into service and id; undefined for keys outside the layout. */
export function parseInstanceKey(
  layout: RegistryLayout,
  key: string,
): { service: string; id: string } | undefined {
  const prefix = allServicesPrefix(layout);
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  const slash = rest.indexOf("/");
  if (slash <= 0 || slash === rest.length - 1 || rest.indexOf("/", slash + 1) !== -1)
    return undefined;
  return { service: rest.slice(0, slash), id: rest.slice(slash + 1) };
}
