/** The one place the client commands meet the SDK. */
import { ConclaveClient } from "../client/index.js";
import type { CliClient } from "./client-port.js";

export function connect(options: { endpoints: readonly string[]; timeoutMs: number }): CliClient {
  return new ConclaveClient({ endpoints: options.endpoints, timeoutMs: options.timeoutMs });
}
