/** Polls `condition` until it holds or `timeoutMs` passes (then throws, naming `what`). */
export async function waitFor(
  what: string,
  timeoutMs: number,
  condition: () => Promise<boolean>,
  pollMs = 100,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
