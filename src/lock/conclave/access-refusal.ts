/**
 * The codes with which a Conclave server refuses a client's credentials or
 * their permissions. Unlike an unreachable or leaderless cluster, these do
 * not go away by waiting.
 */
const ACCESS_REFUSALS = new Set([
  "PERMISSION_DENIED",
  "AUTH_REQUIRED",
  "AUTH_FAILED",
  "INVALID_AUTH_TOKEN",
]);

/** The server's code when `error` is its refusal of access, else undefined. */
export function conclaveAccessRefusal(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && ACCESS_REFUSALS.has(code) ? code : undefined;
}
