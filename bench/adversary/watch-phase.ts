/**
 * Phase (a): watchers that never read, then 1 MiB puts. The member serving
 * them must stay within its watch budget plus a fixed margin, keep answering
 * /status, and tell each watcher WATCH_TOO_SLOW before cutting it.
 */
import type { ConclaveClient } from "../../src/client/index.js";
import { lastErrorCode, openRawWatch, type RawWatch } from "../../test/server/raw-watch.js";
import { rssBytes } from "../support/proc-stats.js";
import { waitFor } from "../support/wait.js";
import type { AdversaryOptions } from "./options.js";
import { type StatusLatency, samplePeakRss, sampleStatus } from "./samplers.js";

export interface WatchPhaseResult {
  readonly watchersOpened: number;
  readonly putsOk: number;
  readonly putsFailed: number;
  readonly rssBeforeBytes: number;
  readonly rssPeakBytes: number;
  readonly rssAfterBytes: number;
  /** The budget plus margin the peak is held to, above rssBeforeBytes. */
  readonly rssLimitBytes: number;
  readonly withinLimit: boolean;
  /** Watchers still registered once the puts were done and the member had time to cut. */
  readonly watchersLeft: number;
  /** Of the sampled watchers whose stream was read at the end, those told WATCH_TOO_SLOW. */
  readonly sampledTooSlow: number;
  readonly sampled: number;
  readonly status: StatusLatency;
}

const SAMPLE = 20;
const MiB = 1024 * 1024;

export async function activeWatchers(url: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(30_000) });
  const line = /^conclave_watchers_active (\d+)$/m.exec(await res.text());
  if (line === null) throw new Error(`no conclave_watchers_active in ${url}/metrics`);
  return Number(line[1]);
}

export async function runWatchPhase(
  member: { readonly url: string; readonly pid: number },
  client: ConclaveClient,
  key: string,
  options: AdversaryOptions,
): Promise<WatchPhaseResult> {
  const port = Number(new URL(member.url).port);
  const rssBeforeBytes = rssBytes(member.pid);
  const watchers: RawWatch[] = [];
  try {
    for (let i = 0; i < options.watchers; i += 100) {
      const batch = Math.min(100, options.watchers - i);
      const opened = await Promise.all(
        Array.from({ length: batch }, () =>
          openRawWatch(port, { key: Buffer.from(key).toString("base64") }),
        ),
      );
      watchers.push(...opened);
    }
    await waitFor("the watchers to register", 30_000, async () => {
      return (await activeWatchers(member.url)) >= options.watchers;
    });
    const status = sampleStatus(member.url);
    const peak = samplePeakRss(member.pid);
    const value = Buffer.alloc(MiB, 0x61);
    let putsOk = 0;
    let putsFailed = 0;
    for (let i = 0; i < options.puts; i++) {
      try {
        await client.put(key, value);
        putsOk++;
      } catch {
        putsFailed++;
      }
    }
    // Bounded: a stream the kernel's buffers still absorb is not over budget and stays.
    await waitFor("the member to cut its stalled watchers", 15_000, async () => {
      return (await activeWatchers(member.url)) === 0;
    }).catch(() => undefined);
    const watchersLeft = await activeWatchers(member.url);
    const rssPeakBytes = peak.stop();
    const statusLatency = await status.stop();
    const rssAfterBytes = rssBytes(member.pid);
    const sample = watchers.slice(0, SAMPLE);
    const tails = await Promise.all(
      sample.map((w) => w.readTail(64 * 1024, 30_000).catch(() => "")),
    );
    const sampledTooSlow = tails.filter((t) => lastErrorCode(t) === "WATCH_TOO_SLOW").length;
    const rssLimitBytes = options.watchBudgetBytes + options.marginBytes;
    return {
      watchersOpened: watchers.length,
      putsOk,
      putsFailed,
      rssBeforeBytes,
      rssPeakBytes,
      rssAfterBytes,
      rssLimitBytes,
      withinLimit: rssPeakBytes - rssBeforeBytes <= rssLimitBytes,
      watchersLeft,
      sampledTooSlow,
      sampled: sample.length,
      status: statusLatency,
    };
  } finally {
    for (const w of watchers) w.socket.destroy();
    await waitFor("the watchers to go", 30_000, async () => {
      return (await activeWatchers(member.url)) === 0;
    }).catch(() => undefined);
  }
}
