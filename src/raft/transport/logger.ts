/**
 * The logging surface the transport needs. It is the call shape of pino
 * (`logger.warn({ peer: 2 }, "closed connection")`), so a pino logger (or a
 * child of one) can be passed as is.
 */
export interface TransportLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

const ignore = (): void => {};

/** Discards everything; the default when no logger is configured. */
export const silentLogger: TransportLogger = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
};
