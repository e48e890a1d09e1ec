import type { HttpCheckSpec } from "../check-spec.js";
import { type CheckResult, describeError, MAX_OUTPUT_LENGTH, type Probe } from "./check.js";

/** Redirects followed within the same host before the check gives up. */
const MAX_REDIRECTS = 3;
/** Of the body, only this much is read (for the result's output); the rest is discarded unread. */
const MAX_BODY_BYTES = 1024;
const TOO_MANY_REQUESTS = 429;

/**
 * GET `url`: 2xx passes, 429 is a warning (the instance is alive but shedding
 * load, as Consul reads it), anything else, a timeout or a connection error
 * is critical. Redirects are followed only to the same host and port, so a
 * check cannot be bounced to probe another machine.
 */
export function httpProbe(spec: HttpCheckSpec): Probe {
  return {
    run: (signal) => runHttpCheck(spec.url, signal),
    close() {},
  };
}

async function runHttpCheck(url: string, signal: AbortSignal): Promise<CheckResult> {
  let target = new URL(url);
  try {
    for (let hop = 0; ; hop++) {
      const response = await fetch(target, {
        method: "GET",
        redirect: "manual",
        signal,
        headers: { accept: "text/plain, application/json, */*" },
      });
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel().catch(() => {});
        const next = new URL(location, target);
        if (next.host !== target.host || next.protocol !== target.protocol) {
          return critical(`HTTP ${response.status} redirects to another host (${next.host})`);
        }
        if (hop >= MAX_REDIRECTS) return critical(`more than ${MAX_REDIRECTS} redirects`);
        target = next;
        continue;
      }
      const body = await readPrefix(response, MAX_BODY_BYTES);
      const output = truncate(`HTTP ${response.status}${body === "" ? "" : `: ${body}`}`);
      if (response.status >= 200 && response.status < 300) return { status: "passing", output };
      if (response.status === TOO_MANY_REQUESTS) return { status: "warning", output };
      return { status: "critical", output };
    }
  } catch (error) {
    return critical(signal.aborted ? describeError(signal.reason) : describeError(error));
  }
}

/** Reads at most `maxBytes` of the body as text, then drops the connection's remaining body. */
async function readPrefix(response: Response, maxBytes: number): Promise<string> {
  const body = response.body;
  if (body === null) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString("utf8").trim();
}

function truncate(text: string): string {
  return text.length > MAX_OUTPUT_LENGTH ? `${text.slice(0, MAX_OUTPUT_LENGTH)}…` : text;
}

function critical(output: string): CheckResult {
  return { status: "critical", output };
}
