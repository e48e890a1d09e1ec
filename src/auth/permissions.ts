import {
  type AuthPermission,
  type AuthView,
  type KeyInterval,
  keyInterval,
  ROOT_ROLE,
} from "../kv/index.js";

export type AccessMode = "read" | "write";

/** Half-open [start, end) over latin1 key strings; end null = no upper bound. */
interface Span {
  readonly start: string;
  readonly end: string | null;
}

/** The smallest key after `key`: a single key is the span [key, key + "\0"). */
const successor = (key: string) => `${key}\u0000`;

function span(iv: KeyInterval): Span {
  if (iv.end === undefined) return { start: iv.start, end: successor(iv.start) };
  // An empty or inverted range matches no key; asking for its start key is the safe reading.
  if (iv.end !== null && iv.end <= iv.start) return { start: iv.start, end: successor(iv.start) };
  return { start: iv.start, end: iv.end };
}

const grants = (p: AuthPermission, mode: AccessMode) =>
  p.permType === "readwrite" || p.permType === mode;

export function isRoot(view: AuthView, user: string): boolean {
  return view.user(user)?.roles.includes(ROOT_ROLE) ?? false;
}

/**
 * Whether `user` may `mode` every key of [key, rangeEnd) (etcd's reading of
 * key/range_end). Permissions of all the user's roles are merged, so two
 * adjacent grants together cover a range neither covers alone.
 */
export function canAccess(
  view: AuthView,
  user: string,
  mode: AccessMode,
  key: Uint8Array,
  rangeEnd?: Uint8Array,
): boolean {
  const u = view.user(user);
  if (u === undefined) return false;
  if (u.roles.includes(ROOT_ROLE)) return true;
  const wanted = span(keyInterval(key, rangeEnd));
  const held: Span[] = [];
  for (const roleName of u.roles) {
    for (const p of view.role(roleName)?.permissions ?? []) {
      if (grants(p, mode)) held.push(span(keyInterval(p.key, p.rangeEnd)));
    }
  }
  held.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  // Sweep: `covered` is the end of the prefix of `wanted` covered so far.
  let covered = wanted.start;
  for (const h of held) {
    if (h.start > covered) break;
    if (h.end === null) return true;
    if (h.end > covered) covered = h.end;
    if (wanted.end !== null && covered >= wanted.end) return true;
  }
  return false;
}

export const canRead = (view: AuthView, user: string, key: Uint8Array, rangeEnd?: Uint8Array) =>
  canAccess(view, user, "read", key, rangeEnd);

export const canWrite = (view: AuthView, user: string, key: Uint8Array, rangeEnd?: Uint8Array) =>
  canAccess(view, user, "write", key, rangeEnd);
