/** Command-line flags shared by the example's processes. */
import { parseArgs } from "node:util";

export interface ExampleFlags {
  readonly endpoints: string[];
  readonly port: number;
  readonly id: string;
}

export function exampleFlags(
  argv: readonly string[],
  defaults: { port: number; id: string },
): ExampleFlags {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      endpoints: {
        type: "string",
        default: process.env.CONCLAVE_ENDPOINTS ?? "http://127.0.0.1:7579",
      },
      port: { type: "string", default: String(defaults.port) },
      id: { type: "string", default: defaults.id },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be a port, got ${values.port}`);
  return { endpoints: values.endpoints.split(",").filter((e) => e !== ""), port, id: values.id };
}

/**
 * The keys the example shares: one config value, the job's fence (the
 * highest fencing token that wrote) and its last run (its history is the
 * job's log, kept until compaction).
 */
export const KEYS = {
  greeting: "/example/config/greeting",
  jobFence: "/example/job/fence",
  jobLast: "/example/job/last",
} as const;

export const SERVICE = "hello";
export const JOB = "example-report-job";

/** Fencing tokens as fixed-width decimal, so the store's byte order is numeric order. */
export function padToken(token: bigint): string {
  return token.toString().padStart(20, "0");
}
