import { randomBytes } from "node:crypto";
import { resolveServeConfig, type ServeConfig } from "../../src/server/runtime/config.js";
import { ServeConfigError } from "../../src/server/runtime/config-error.js";

/** A strong random peer secret: every member needs one (test/server/process/cluster-secret.test.ts). */
export const TEST_CLUSTER_SECRET = randomBytes(32).toString("hex");

/** `conclave serve`'s settings from flags and environment, with a strong secret unless `env` sets one. */
export function resolveTestConfig(
  argv: string[],
  env: Record<string, string> = {},
  files: Record<string, string> = {},
): ServeConfig {
  const parsed = resolveServeConfig({
    argv,
    env: { CONCLAVE_CLUSTER_SECRET: TEST_CLUSTER_SECRET, ...env },
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: ${path}`);
      return text;
    },
  });
  if (parsed.config === undefined) throw new Error("expected a config");
  return parsed.config;
}

/** The ServeConfigError `f` throws; fails the test if it throws nothing or something else. */
export function configFailure(f: () => unknown): ServeConfigError {
  try {
    f();
  } catch (err) {
    if (err instanceof ServeConfigError) return err;
    throw err;
  }
  throw new Error("expected a ServeConfigError");
}
