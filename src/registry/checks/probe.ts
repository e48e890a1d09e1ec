import { type Clock, systemClock } from "../../clock.js";
import type { CheckSpec } from "../check-spec.js";
import { RegistryError } from "../errors.js";
import { HEALTH_STATUSES } from "../instance.js";
import {
  type CheckResult,
  type CustomCheck,
  checkLabel,
  describeError,
  type Probe,
  type ResolvedCheck,
  validateCheck,
} from "./check.js";
import { grpcProbe } from "./grpc.js";
import { httpProbe } from "./http.js";
import { tcpProbe } from "./tcp.js";

/** A run did not finish within its check's timeoutMs; the run counts as critical. */
export class CheckTimeoutError extends RegistryError {
  constructor(label: string, timeoutMs: number) {
    super("REGISTRY_CHECK_TIMEOUT", `${label} did not finish within ${timeoutMs} ms`);
  }
}

/** The probe that runs `check`. */
export function createProbe(check: ResolvedCheck): Probe {
  switch (check.kind) {
    case "http":
      return httpProbe(check);
    case "tcp":
      return tcpProbe(check);
    case "grpc":
      return grpcProbe(check);
    case "custom":
      return customProbe(check);
  }
}

function customProbe(check: CustomCheck): Probe {
  return {
    async run(signal) {
      try {
        const verdict = await check.check(signal);
        if (verdict === true) return { status: "passing", output: "" };
        if (verdict === false) return { status: "critical", output: "" };
        if (HEALTH_STATUSES.includes(verdict)) return { status: verdict, output: "" };
        return { status: "critical", output: `returned ${JSON.stringify(verdict)}` };
      } catch (error) {
        return { status: "critical", output: describeError(error) };
      }
    },
    close() {},
  };
}

/**
 * One run of `probe`, bounded by `check.timeoutMs` on `clock`: a run that
 * has not settled by then is aborted and counts as critical, whether or not
 * the probe honours its signal. `signal` (the runner stopping) aborts it too.
 */
export function runProbeOnce(
  check: ResolvedCheck,
  probe: Probe,
  clock: Clock,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const controller = new AbortController();
  return new Promise<CheckResult>((resolve) => {
    let settled = false;
    const finish = (result: CheckResult) => {
      if (settled) return;
      settled = true;
      cancelTimer();
      signal?.removeEventListener("abort", onStop);
      resolve(result);
    };
    const abortWith = (reason: unknown) => {
      controller.abort(reason);
      finish({ status: "critical", output: describeError(reason) });
    };
    const onStop = () => abortWith(signal?.reason);
    const cancelTimer = clock.setTimer(
      () => abortWith(new CheckTimeoutError(checkLabel(check), check.timeoutMs)),
      check.timeoutMs,
    );
    if (signal?.aborted) {
      onStop();
      return;
    }
    signal?.addEventListener("abort", onStop, { once: true });
    // Through then(), so a probe that throws at once counts as a failed run too.
    Promise.resolve()
      .then(() => probe.run(controller.signal))
      .then(finish, (error: unknown) =>
        finish({ status: "critical", output: describeError(error) }),
      );
  });
}

/**
 * Runs `check` once, now, bounded by its timeoutMs: for a caller that wants
 * one answer rather than a CheckRunner's ongoing status.
 */
export async function runCheck(
  check: CheckSpec | CustomCheck,
  options: { readonly signal?: AbortSignal; readonly clock?: Clock } = {},
): Promise<CheckResult> {
  const resolved = validateCheck(check);
  const probe = createProbe(resolved);
  try {
    return await runProbeOnce(resolved, probe, options.clock ?? systemClock, options.signal);
  } finally {
    probe.close();
  }
}
