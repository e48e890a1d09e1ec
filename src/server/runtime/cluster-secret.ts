/**
 * The cluster secret that peers prove in the handshake: how strong it must
 * be, how it is read from a file, and how `conclave start` makes one. A weak
 * secret is as good as none, since one captured handshake lets an attacker
 * test guesses offline, so the policy is checked once, where a secret enters
 * (docs/security.md, "Cluster secret").
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fsyncSync,
  openSync,
  readFileSync,
  type Stats,
  statSync,
  writeSync,
} from "node:fs";
import { ConclaveError } from "../../errors.js";

/** Bytes the secret must carry once decoded from hex or base64. */
export const MIN_CLUSTER_SECRET_BYTES = 32;
/** What the entropy estimate must reach. */
export const MIN_CLUSTER_SECRET_BITS = 128;
/** Fewer distinct characters than this is a short alphabet, whatever the length. */
const MIN_DISTINCT_CHARS = 10;
/** At most this share of 3-character windows may repeat an earlier one. */
const MAX_REPEATED_TRIGRAM_SHARE = 0.25;
/** Group and world permission bits: a secret file must have none. */
const GROUP_OR_WORLD = 0o077;
const GENERATED_SECRET_BYTES = 32;

/** A cluster secret is too weak, or its file is unsafe or unreadable. */
export class ClusterSecretError extends ConclaveError {
  constructor(message: string) {
    super("CLUSTER_SECRET_INVALID", message);
  }
}

export interface SecretStrength {
  /** How the text was read: hex and base64 are decoded, anything else is taken as UTF-8. */
  readonly encoding: "hex" | "base64" | "text";
  readonly decodedBytes: number;
  readonly distinctChars: number;
  /** Length times the Shannon entropy of the character frequencies, in bits. */
  readonly estimatedBits: number;
  /** Share of 3-character windows that repeat an earlier window (0 for a random string). */
  readonly repeatedTrigramShare: number;
}

export function secretStrength(text: string): SecretStrength {
  const chars = [...text];
  const counts = new Map<string, number>();
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bitsPerChar = 0;
  for (const n of counts.values()) {
    const p = n / chars.length;
    bitsPerChar -= p * Math.log2(p);
  }
  const windows = Math.max(chars.length - 2, 0);
  const trigrams = new Set<string>();
  for (let i = 0; i < windows; i++) trigrams.add(chars.slice(i, i + 3).join(""));
  const { encoding, decodedBytes } = decoded(text);
  return {
    encoding,
    decodedBytes,
    distinctChars: counts.size,
    estimatedBits: Math.floor(bitsPerChar * chars.length),
    repeatedTrigramShare: windows === 0 ? 1 : (windows - trigrams.size) / windows,
  };
}

function decoded(text: string): Pick<SecretStrength, "encoding" | "decodedBytes"> {
  if (/^(?:[0-9a-f]{2})+$/i.test(text)) return { encoding: "hex", decodedBytes: text.length / 2 };
  const unpadded = text.replace(/={1,2}$/, "");
  if (/^[A-Za-z0-9+/]+$/.test(unpadded) || /^[A-Za-z0-9_-]+$/.test(unpadded)) {
    return { encoding: "base64", decodedBytes: Math.floor((unpadded.length * 6) / 8) };
  }
  return { encoding: "text", decodedBytes: Buffer.byteLength(text, "utf8") };
}

/**
 * Why `text` is not strong enough to be a cluster secret, or undefined when
 * it is. The rule (documented in docs/security.md): at least 32 bytes once
 * decoded, at least 10 distinct characters, at most a quarter of its
 * 3-character windows repeated, and an estimated entropy of 128 bits or more.
 * A 64-character random hex string or a 44-character random base64 string
 * passes; 16 or 64 times "a", "abcdefghij" repeated, or a short word do not.
 */
export function weakSecretProblem(text: string): string | undefined {
  const s = secretStrength(text);
  if (s.decodedBytes < MIN_CLUSTER_SECRET_BYTES) {
    return `must be at least ${MIN_CLUSTER_SECRET_BYTES} bytes once decoded, got ${s.decodedBytes} (read as ${s.encoding})`;
  }
  if (s.distinctChars < MIN_DISTINCT_CHARS) {
    return `uses only ${s.distinctChars} distinct characters; at least ${MIN_DISTINCT_CHARS} are needed`;
  }
  if (s.repeatedTrigramShare > MAX_REPEATED_TRIGRAM_SHARE) {
    return `repeats itself (${Math.round(s.repeatedTrigramShare * 100)}% of its 3-character windows occur earlier)`;
  }
  if (s.estimatedBits < MIN_CLUSTER_SECRET_BITS) {
    return `carries about ${s.estimatedBits} bits of entropy; at least ${MIN_CLUSTER_SECRET_BITS} are needed`;
  }
  return undefined;
}

/** 32 random bytes as base64url (43 characters): what `conclave start` generates. */
export function generateClusterSecret(): string {
  return randomBytes(GENERATED_SECRET_BYTES).toString("base64url");
}

function checkSecretFileMode(path: string, st: Stats): void {
  if (!st.isFile()) throw new ClusterSecretError(`${path} is not a regular file`);
  if ((st.mode & GROUP_OR_WORLD) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, "0");
    throw new ClusterSecretError(
      `${path} is readable or writable by group or others (mode ${mode}); run chmod 600 ${path}`,
    );
  }
}

/**
 * Reads a secret file: a regular file with no group or world permissions,
 * holding the secret on its first line (a trailing newline is ignored).
 */
export function readSecretFile(path: string): string {
  let st: Stats;
  let raw: string;
  try {
    st = statSync(path);
    checkSecretFileMode(path, st);
    raw = readFileSync(path, "utf8");
  } catch (err) {
    if (err instanceof ClusterSecretError) throw err;
    throw new ClusterSecretError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const text = raw.replace(/\r?\n$/, "");
  if (text.includes("\n")) throw new ClusterSecretError(`${path} must hold one line`);
  return text;
}

/**
 * The secret kept at `path`: read (and checked) if the file exists, else
 * generated and written with mode 0600. Creation is exclusive, so two
 * launchers racing on one data directory end up with the same secret.
 */
export function loadOrCreateSecretFile(path: string): {
  readonly secret: string;
  readonly created: boolean;
} {
  const secret = generateClusterSecret();
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeSync(fd, `${secret}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return { secret, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new ClusterSecretError(`cannot create ${path}: ${(err as Error).message}`);
    }
  }
  const existing = readSecretFile(path);
  const problem = weakSecretProblem(existing);
  if (problem !== undefined) throw new ClusterSecretError(`the secret in ${path} ${problem}`);
  return { secret: existing, created: false };
}
