import { BackendUnavailableError, LockAccessDeniedError } from "../errors.js";

/** The backend's code when `error` is its refusal of this client's access, else undefined. */
export type AccessRefusal = (error: unknown) => string | undefined;

/**
 * Runs one request to a backend server bounded by `timeoutMs`. Failures that
 * are not already lock errors become BackendUnavailableError naming the
 * backend, so callers see only the typed errors of the lock contract; a
 * refusal of access (as `refusal` tells it) becomes LockAccessDeniedError.
 */
export async function boundedCall<T>(
  backend: string,
  timeoutMs: number,
  lockName: string | undefined,
  call: () => Promise<T>,
  refusal?: AccessRefusal,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new BackendUnavailableError(backend, `no reply within ${timeoutMs} ms`, lockName)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([call(), timeout]);
  } catch (error) {
    if (error instanceof BackendUnavailableError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    const serverCode = refusal?.(error);
    if (serverCode !== undefined) {
      throw new LockAccessDeniedError(backend, serverCode, detail, lockName, { cause: error });
    }
    throw new BackendUnavailableError(backend, detail, lockName, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
