import {
  type CallOptions,
  type Client,
  credentials,
  makeGenericClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import type { GrpcCheckSpec } from "../check-spec.js";
import { type CheckResult, describeError, type Probe } from "./check.js";
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  healthService,
} from "./health-proto.js";

type HealthClient = Client & {
  Check(
    request: HealthCheckRequest,
    options: CallOptions,
    callback: (error: ServiceError | null, response?: HealthCheckResponse) => void,
  ): { cancel(): void };
};

/**
 * The gRPC health protocol: `grpc.health.v1.Health/Check` for `service`
 * ("" asks about the whole server); SERVING passes, any other answer or a
 * failed call is critical. The channel (plaintext) is opened on the first run
 * and kept between runs, as a gRPC client would keep it; `close` closes it.
 */
export function grpcProbe(spec: GrpcCheckSpec): Probe {
  let client: HealthClient | undefined;
  const service = spec.service ?? "";
  return {
    run(signal) {
      if (client === undefined) {
        const Ctor = makeGenericClientConstructor(healthService(), "Health");
        client = new Ctor(spec.target, credentials.createInsecure()) as unknown as HealthClient;
      }
      return runGrpcCheck(client, spec.target, service, signal);
    },
    close() {
      client?.close();
      client = undefined;
    },
  };
}

function runGrpcCheck(
  client: HealthClient,
  target: string,
  service: string,
  signal: AbortSignal,
): Promise<CheckResult> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ status: "critical", output: describeError(signal.reason) });
      return;
    }
    let settled = false;
    const finish = (result: CheckResult) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const call = client.Check({ service }, {}, (error, response) => {
      if (error !== null) {
        finish({
          status: "critical",
          output: `gRPC health ${target}: ${error.details || error.message}`,
        });
        return;
      }
      const status = response?.status ?? "UNKNOWN";
      finish({
        status: status === "SERVING" ? "passing" : "critical",
        output: `gRPC health ${target}${service === "" ? "" : `/${service}`}: ${status}`,
      });
    });
    const onAbort = () => {
      finish({ status: "critical", output: describeError(signal.reason) });
      call.cancel();
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
