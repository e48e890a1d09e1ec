import type { FastifyInstance } from "fastify";
import { ConclaveError } from "../errors.js";
import { LogThrottle } from "../log-throttle.js";
import {
  type DefenceMetrics,
  isAuthRefusalCode,
  isMembershipRefusalCode,
} from "./defence-metrics.js";
import {
  LearnerNotReadyError,
  TooManyLearnersError,
  UnsafeReconfigurationError,
} from "./reconfig-errors.js";

/** The numbers a membership refusal was decided on, so the log line explains it. */
function refusalNumbers(err: ConclaveError): Record<string, number | boolean> {
  if (err instanceof UnsafeReconfigurationError) {
    return { voters: err.voters, connected: err.connected, quorum: err.quorum };
  }
  if (err instanceof LearnerNotReadyError) {
    return {
      matchIndex: err.matchIndex,
      requiredIndex: err.requiredIndex,
      learnerConnected: err.connected,
    };
  }
  if (err instanceof TooManyLearnersError) {
    return { learners: err.learners, maxLearners: err.maxLearners };
  }
  return {};
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
