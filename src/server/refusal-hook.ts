import type { FastifyInstance } from "fastify";
import { ConclaveError } from "../errors.js";
import { LogThrottle } from "../log-throttle.js";
import {
  type DefenceMetrics,
  isAuthRefusalCode,
  isMembershipRefusalCode,
} from "./defence-metrics.js";

/** The numbers a refusal carries (quorum counts, learner progress), for the log line. */
const REFUSAL_FIELDS = [
  "voters",
  "connected",
  "quorum",
  "matchIndex",
  "requiredIndex",
  "learners",
  "maxLearners",
] as const;

function refusalNumbers(err: ConclaveError): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  const source = err as unknown as Record<string, unknown>;
  for (const name of REFUSAL_FIELDS) {
    if (source[name] !== undefined) fields[name] = source[name];
  }
  return fields;
}

/**
 * Counts the requests a defence refused, by the error's stable code, and logs
 * refused membership changes: an operator should see that someone tried to
 * reshape the cluster and why it was stopped. Whoever may call member/add can
 * call it in a loop, so the log says so at most once per code per interval.
 */
export function addRefusalHook(app: FastifyInstance, metrics: DefenceMetrics): void {
  const membershipWarnings = new LogThrottle(app.log);
  app.addHook("onError", async (req, _reply, err) => {
    if (!(err instanceof ConclaveError)) return;
    if (isAuthRefusalCode(err.code)) {
      metrics.authRefused(err.code);
      return;
    }
    if (!isMembershipRefusalCode(err.code)) return;
    metrics.membershipChangeRefused(err.code);
    membershipWarnings.warn(
      err.code,
      { code: err.code, route: req.routeOptions.url, ...refusalNumbers(err), reason: err.message },
      "refused a membership change",
    );
  });
}
