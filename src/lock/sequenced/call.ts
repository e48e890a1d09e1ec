import { BackendUnavailableError } from "../errors.js";

/**
 * Runs one request to a backend server bounded by `timeoutMs`. Failures that
 * are not already lock errors become BackendUnavailableError naming the
 * backend, so callers see only the typed errors of the lock contract.
 */
export async function boundedCall<T>(
  backend: string,
  timeoutMs: number,
  lockName: string | undefined,
  call: () => Promise<T>,
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
    throw new BackendUnavailableError(backend, detail, lockName, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
