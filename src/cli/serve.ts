/**
 * `conclave serve`: one cluster member — WAL storage, TCP peer transport,
 * Raft node, key space and the HTTP client API — in the foreground. Prints one
 * JSON line `{"ready":true,...}` on stdout once serving; logs (pino JSON) go to
 * stderr. SIGTERM/SIGINT stop it gracefully with exit code 0.
 */
import { ConclaveError } from "../errors.js";
import { resolveServeConfig, UsageError } from "../server/runtime/config.js";
import { FIELDS } from "../server/runtime/config-fields.js";
import { applyHeapGrowth } from "../server/runtime/heap-growth.js";
import { runServe } from "../server/runtime/run.js";
import type { runShardedServe } from "../shard/member.js";
import type { startDnsView } from "./serve-dns.js";

/** A stop that does not finish within this long ends the process anyway. */
const STOP_DEADLINE_MS = 10_000;

export function serveUsage(): string {
  const rows = FIELDS.map((f) => {
    const flag = `--${f.flag}${f.boolean ? "" : " <value>"}`;
    const dflt = f.defaultText === "" ? "" : ` (default ${f.defaultText})`;
    return `  ${flag.padEnd(38)} ${f.description}${dflt}\n  ${"".padEnd(38)} env ${f.env}, file key "${f.key}"`;
  });
  return `Usage: conclave serve [flags]

Runs one cluster member. Settings come from flags, then CONCLAVE_* environment
variables, then a JSON config file (--config file.json or CONCLAVE_CONFIG), then defaults.

  --config <file.json>                   settings file; keys as listed below
  -h, --help                             show this help
${rows.join("\n")}

--initial-cluster lists founding members as name=id@peerHost:port[@clientUrl],
comma-separated, e.g. n1=1@127.0.0.1:7380@http://127.0.0.1:7379,n2=2@127.0.0.1:7382@http://127.0.0.1:7381

Peers prove a shared secret of at least 32 random bytes, e.g. from
(umask 077; openssl rand -hex 32 > secret) and --cluster-secret-file secret,
or authenticate by certificate with --peer-cert-file, --peer-key-file and
--peer-ca-file. There is no default secret.
`;
}

export async function serve(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof resolveServeConfig>;
  try {
    parsed = resolveServeConfig({ argv, env: process.env });
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConclaveError) {
      process.stderr.write(`conclave serve: ${err.message}\n\n${serveUsage()}`);
      return 2;
    }
    throw err;
  }
  if (parsed.help || parsed.config === undefined) {
    process.stdout.write(serveUsage());
    return 0;
  }
  // A process setting: applied here, by the process's owner, not by each member it runs.
  applyHeapGrowth(parsed.config.heapGrowthPercent);
  let running: Awaited<ReturnType<typeof runServe>> | Awaited<ReturnType<typeof runShardedServe>>;
  try {
    // The sharded tier and the DNS view load only where they run: every
    // module loaded stays in the heap (and its room to grow) for good.
    running =
      parsed.config.shards > 0
        ? await (await import("../shard/member.js")).runShardedServe(parsed.config)
        : await runServe(parsed.config);
  } catch (err) {
    process.stderr.write(`conclave serve: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  let dns: Awaited<ReturnType<typeof startDnsView>> | undefined;
  try {
    // The DNS view reads the one key space of an unsharded member.
    const { listenDns } = parsed.config;
    dns =
      "store" in running && listenDns !== undefined
        ? await (await import("./serve-dns.js")).startDnsView(listenDns, parsed.config, running)
        : undefined;
  } catch (err) {
    process.stderr.write(`conclave serve: cannot start the DNS view: ${(err as Error).message}\n`);
    await running.stop().catch(() => {});
    return 1;
  }
  process.stdout.write(`${JSON.stringify(running.info)}\n`);
  const code = await new Promise<number>((resolve) => {
    const graceful = (): void => resolve(0);
    process.once("SIGTERM", graceful);
    process.once("SIGINT", graceful);
    // Started by `conclave start` over IPC: stop when the launcher goes away, however it ends.
    if (process.send !== undefined) process.once("disconnect", graceful);
    void running.failed.then(resolve);
  });
  setTimeout(() => process.exit(code === 0 ? 1 : code), STOP_DEADLINE_MS).unref();
  try {
    await dns?.close();
    await running.stop();
    // An open IPC channel to the launcher would keep this process alive.
    if (process.connected) process.disconnect();
  } catch (err) {
    process.stderr.write(`conclave serve: stop failed: ${(err as Error).message}\n`);
    return code === 0 ? 1 : code;
  }
  return code;
}
