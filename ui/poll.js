import { useEffect, useRef, useState } from "preact/hooks";

/**
 * Calls `load` now and every `intervalMs` while the view is shown (and again
 * when `deps` change); answers the latest result or error.
 * @template T
 * @param {(signal: AbortSignal) => Promise<T>} load
 * @param {number} intervalMs
 * @param {unknown[]} [deps]
 * @returns {{ data: T | undefined, error: Error | undefined, reload: () => void }}
 */
export function usePoll(load, intervalMs, deps = []) {
  const [state, setState] = useState(
    /** @type {{ data: T | undefined, error: Error | undefined }} */ ({
      data: undefined,
      error: undefined,
    }),
  );
  const [nonce, setNonce] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const controller = new AbortController();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const run = async () => {
      try {
        const data = await loadRef.current(controller.signal);
        if (!controller.signal.aborted) setState({ data, error: undefined });
      } catch (err) {
        if (!controller.signal.aborted) {
          setState((s) => ({ data: s.data, error: /** @type {Error} */ (err) }));
        }
      }
      if (!controller.signal.aborted) timer = setTimeout(run, intervalMs);
    };
    run();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [...deps, nonce, intervalMs]);
  return { ...state, reload: () => setNonce((n) => n + 1) };
}

/**
 * @param {{ error: Error | undefined }} props
 */
export function errorText({ error }) {
  if (error === undefined) return "";
  const code = /** @type {{ code?: string }} */ (error).code;
  return code === undefined ? error.message : `${code}: ${error.message}`;
}
