import { Writable } from "node:stream";
import { type Logger, pino } from "pino";

/** A pino logger whose lines (parsed JSON) land in `lines`, for tests that check what is logged. */
export function capturedLog(level = "warn"): {
  readonly logger: Logger;
  readonly lines: Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}
