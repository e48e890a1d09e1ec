import { parsePeerAddress } from "../../raft/transport/index.js";

/**
 * One founding member as written in `--initial-cluster`:
 * `name=id@peerHost:peerPort[@clientUrl]`, entries separated by commas, e.g.
 * `n1=1@127.0.0.1:2380@http://127.0.0.1:2379,n2=2@127.0.0.1:2382@http://127.0.0.1:2381`.
 */
export interface InitialMember {
  readonly name: string;
  readonly id: number;
  /** host:port the member's peer transport listens on. */
  readonly peerAddress: string;
  readonly clientUrl: string | undefined;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Throws an Error whose message says what is wrong with which entry. */
export function parseInitialCluster(text: string): InitialMember[] {
  const members: InitialMember[] = [];
  const entries = text.split(",").map((e) => e.trim());
  if (entries.length === 0 || entries.every((e) => e === "")) {
    throw new Error("must list at least one member as name=id@host:port[@clientUrl]");
  }
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    const name = entry.slice(0, eq);
    const parts = entry.slice(eq + 1).split("@");
    if (eq <= 0 || parts.length < 2 || parts.length > 3) {
      throw new Error(`entry "${entry}" must be name=id@host:port[@clientUrl]`);
    }
    if (!NAME.test(name)) {
      throw new Error(`entry "${entry}": name must be 1-64 letters, digits, "_", "." or "-"`);
    }
    const [idText = "", peerAddress = "", clientUrl] = parts;
    const id = /^[0-9]{1,15}$/.test(idText) ? Number(idText) : Number.NaN;
    if (!Number.isSafeInteger(id) || id <= 0) {
      throw new Error(`entry "${entry}": id must be a positive integer, got "${idText}"`);
    }
    try {
      parsePeerAddress(peerAddress);
    } catch (err) {
      throw new Error(`entry "${entry}": peer address: ${(err as Error).message}`);
    }
    if (clientUrl !== undefined) checkHttpUrl(clientUrl, `entry "${entry}": client URL`);
    if (members.some((m) => m.id === id || m.name === name)) {
      throw new Error(`entry "${entry}" repeats a member name or id`);
    }
    members.push({ name, id, peerAddress, clientUrl });
  }
  return members;
}

export function formatInitialCluster(members: readonly InitialMember[]): string {
  return members
    .map((m) => `${m.name}=${m.id}@${m.peerAddress}${m.clientUrl ? `@${m.clientUrl}` : ""}`)
    .join(",");
}

export function checkHttpUrl(text: string, what: string): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${what} is not a URL: "${text}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`${what} must start with http:// or https://, got "${text}"`);
  }
}
