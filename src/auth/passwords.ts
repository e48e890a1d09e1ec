import bcrypt from "bcryptjs";
import { InvalidArgumentError } from "../errors.js";

/** etcd's default bcrypt cost; each step doubles the work of a guess. */
export const DEFAULT_BCRYPT_COST = 10;
/** bcrypt reads at most 72 bytes; a longer password would be silently cut. */
export const MAX_PASSWORD_BYTES = 72;

function checkPassword(password: string): void {
  const bytes = Buffer.byteLength(password);
  if (bytes === 0 || bytes > MAX_PASSWORD_BYTES) {
    throw new InvalidArgumentError(`password must be 1 to ${MAX_PASSWORD_BYTES} bytes`);
  }
}

/**
 * Hashes on the member that received the request, before anything is
 * proposed: the log, snapshots and followers only ever see the hash.
 */
export async function hashPassword(password: string, cost = DEFAULT_BCRYPT_COST): Promise<string> {
  checkPassword(password);
  return bcrypt.hash(password, cost);
}

/**
 * A hash of nothing anyone knows, compared against when the user does not
 * exist (or has no password), so a wrong name costs the same time as a
 * wrong password and names cannot be probed by timing.
 */
const decoyHashes = new Map<number, Promise<string>>();

export async function verifyPassword(
  password: string,
  hash: string | undefined,
  cost = DEFAULT_BCRYPT_COST,
): Promise<boolean> {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return false;
  if (hash === undefined) {
    let decoy = decoyHashes.get(cost);
    if (decoy === undefined) {
      decoy = bcrypt.hash("conclave decoy password", cost);
      decoyHashes.set(cost, decoy);
    }
    await bcrypt.compare(password, await decoy);
    return false;
  }
  return bcrypt.compare(password, hash);
}
