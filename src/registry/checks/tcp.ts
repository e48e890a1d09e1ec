import net from "node:net";
import type { TcpCheckSpec } from "../check-spec.js";
import { type CheckResult, describeError, type Probe } from "./check.js";

/** Passes when a TCP connection to host:port opens; the connection is closed at once. */
export function tcpProbe(spec: TcpCheckSpec): Probe {
  return {
    run: (signal) => runTcpCheck(spec.host, spec.port, signal),
    close() {},
  };
}

function runTcpCheck(host: string, port: number, signal: AbortSignal): Promise<CheckResult> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ status: "critical", output: describeError(signal.reason) });
      return;
    }
    const socket = net.connect({ host, port });
    const finish = (result: CheckResult) => {
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => finish({ status: "critical", output: describeError(signal.reason) });
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () =>
      finish({ status: "passing", output: `TCP connect ${host}:${port} succeeded` }),
    );
    socket.once("error", (error) =>
      finish({
        status: "critical",
        output: `TCP connect ${host}:${port}: ${describeError(error)}`,
      }),
    );
  });
}
