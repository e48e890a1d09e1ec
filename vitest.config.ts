import { availableParallelism } from "node:os";
import { configDefaults, defineConfig } from "vitest/config";

/**
 * The etcd-API files share one module graph per worker (no isolation): each
 * starts and stops its own cluster and clients, touches no globals and mocks
 * nothing, and importing the server and gRPC stack once per file was a large
 * share of their time. Every other file keeps a fresh worker.
 */
const SHARED_WORKER_FILES = ["test/etcd-api/**/*.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Most files wait on processes, sockets and election timeouts rather than
    // compute: two at once on two cores (vitest's default would be one).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      {
        extends: true,
        test: { name: "etcd-api", include: SHARED_WORKER_FILES, isolate: false },
      },
      {
        extends: true,
        test: {
          name: "default",
          include: ["test/**/*.test.ts", "src/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...SHARED_WORKER_FILES],
        },
      },
    ],
  },
});
