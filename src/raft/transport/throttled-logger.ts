import { LogThrottle } from "../../log-throttle.js";
import type { TransportLogger } from "./logger.js";

/**
 * A logger whose warnings pass through a LogThrottle: anyone who can reach
 * the peer port can make the listener warn (refused handshakes, bad frames),
 * and one line per attempt would let them fill the disk. A warning's kind is
 * its message, error code and handshake failure, plus the peer id once the
 * connection is authenticated, never the remote address (an attacker picks
 * as many of those as it likes). Other levels pass through unchanged.
 */
export function throttledLogger(logger: TransportLogger, intervalMs?: number): TransportLogger {
  const throttle = new LogThrottle(logger, intervalMs === undefined ? {} : { intervalMs });
  return {
    debug: (fields, message) => logger.debug(fields, message),
    info: (fields, message) => logger.info(fields, message),
    error: (fields, message) => logger.error(fields, message),
    warn: (fields, message) => {
      const kind = [message, fields["code"], fields["failure"], fields["peer"]]
        .map(String)
        .join("|");
      throttle.warn(kind, fields, message);
    },
  };
}
