/** The one place the client commands meet the SDK. */
import { ConclaveClient } from "../client/index.js";
import type { ConnectOptions } from "./client-commands.js";
import type { CliClient } from "./client-port.js";
import { clientConnectionOptions } from "./connection-flags.js";

export function connect(options: ConnectOptions): CliClient {
  return new ConclaveClient({
    endpoints: options.endpoints,
    timeoutMs: options.timeoutMs,
    ...clientConnectionOptions(options),
  });
}
