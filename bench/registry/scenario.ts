/**
 * One system, one round: watchers and registrants start as child processes;
 * the servers' idle CPU is read; every registrant registers its instances
 * at once ("go") and the time each instance takes to appear in every
 * watcher's set is taken; the instances then just keep alive while the
 * servers' CPU and the keep-alives answered are counted over a fixed
 * window; one registrant is SIGKILLed and the time until each of its
 * instances has left every set is taken; the rest deregister and every
 * child stops. Times come from the children's wall clocks (one machine).
 */
import { join } from "node:path";
import { totalCpuSeconds } from "../support/proc-stats.js";
import { waitFor } from "../support/wait.js";
import { BenchChild } from "./children.js";
import { FIGURE } from "./figures.js";
import type { RegistryBenchOptions } from "./options.js";
import {
  type ChildMessage,
  type Plan,
  type RegistrantArgs,
  type RegistrySystem,
  serviceName,
  type WatcherArgs,
  wallMs,
} from "./plan.js";

export interface ScenarioTarget {
  readonly system: RegistrySystem;
  readonly endpoints: readonly string[];
  /** The server processes whose CPU is read. */
  readonly pids: readonly number[];
}

/** Extra watcher processes, each following one service besides the per-service watches. */
const EXTRA_WATCHERS = 3;
const START_TIMEOUT_MS = 120_000;
const REGISTER_TIMEOUT_MS = 180_000;
const COUNT_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 30_000;
const POLL_MS = 20;

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runScenario(
  target: ScenarioTarget,
  options: RegistryBenchOptions,
  round: number,
  logDir: string,
  /** Filled phase by phase: a phase that fails leaves the earlier ones' figures. */
  figures: Record<string, number>,
): Promise<void> {
  const plan: Plan = {
    round,
    instances: options.instances,
    services: options.services,
    registrants: options.registrants,
  };
  const S = plan.services;
  /** Watch ids following each service: w for service w, then the extra watchers'. */
  const watchesOf = (service: number) => [
    service,
    ...Array.from({ length: EXTRA_WATCHERS }, (_, j) => S + j).filter(
      (w) => (w - S) % S === service,
    ),
  ];
  const serviceOf = (addr: string) => (Number(addr.slice(addr.lastIndexOf(":") + 1)) - 10_000) % S;

  const registered = new Map<string, { startMs: number; endMs: number; registrant: number }>();
  const seen = new Map<string, number>();
  const gone = new Map<string, number>();
  /** (watch, addr) pairs in a watch's set now. */
  const present = new Set<string>();
  const errors: string[] = [];
  let failed = 0;
  let ready = 0;
  let allRegistered = 0;
  const counts = new Map<string, number>();
  const pair = (watch: number, addr: string) => `${watch}|${addr}`;

  const onMessage = (m: ChildMessage, from: BenchChild, registrant = -1) => {
    switch (m.type) {
      case "ready":
        ready++;
        break;
      case "registered":
        registered.set(m.addr, { startMs: m.startMs, endMs: m.endMs, registrant });
        break;
      case "failed":
        failed++;
        if (failed <= 3) console.error(`  ${target.system} ${from.name}: ${m.addr}: ${m.error}`);
        break;
      case "all-registered":
        allRegistered++;
        break;
      case "count":
        counts.set(from.name, m.keepAlives);
        break;
      case "seen":
        if (!seen.has(pair(m.watch, m.addr))) seen.set(pair(m.watch, m.addr), m.atMs);
        present.add(pair(m.watch, m.addr));
        break;
      case "gone":
        gone.set(pair(m.watch, m.addr), m.atMs);
        present.delete(pair(m.watch, m.addr));
        break;
      case "error":
        errors.push(`${from.name}: ${m.error}`);
        break;
      case "stopped":
        break;
    }
  };
  const until = (what: string, timeoutMs: number, condition: () => boolean) =>
    waitFor(
      `${target.system} ${what}`,
      timeoutMs,
      async () => {
        if (errors.length > 0) throw new Error(`${target.system}: ${errors.join("; ")}`);
        return condition();
      },
      POLL_MS,
    );

  const watcherArgs: WatcherArgs[] = [
    {
      system: target.system,
      endpoints: target.endpoints,
      services: Array.from({ length: S }, (_, s) => serviceName(s)),
      watchIds: Array.from({ length: S }, (_, s) => s),
      firstEndpoint: 0,
    },
    ...Array.from({ length: EXTRA_WATCHERS }, (_, j) => ({
      system: target.system,
      endpoints: target.endpoints,
      services: [serviceName(j % S)],
      watchIds: [S + j],
      firstEndpoint: j + 1,
    })),
  ];
  const log = (name: string) => join(logDir, `${target.system}-r${round}-${name}.log`);
  const watchers = watcherArgs.map(
    (args, i) => new BenchChild(`watcher ${i}`, "watcher", args, log(`watcher${i}`), onMessage),
  );
  const registrants = Array.from({ length: plan.registrants }, (_, p) => {
    const args: RegistrantArgs = {
      system: target.system,
      endpoints: target.endpoints,
      plan,
      registrant: p,
      ttlSeconds: options.ttlSeconds,
      inFlight: options.inFlight,
    };
    return new BenchChild(`registrant ${p}`, "registrant", args, log(`registrant${p}`), (m, c) =>
      onMessage(m, c, p),
    );
  });
  const children = [...watchers, ...registrants];
  try {
    await until("clients ready", START_TIMEOUT_MS, () => ready === children.length);

    // Idle: every client connected, nothing registered.
    let cpu0 = totalCpuSeconds(target.pids);
    let t0 = performance.now();
    await sleep(options.idleMs);
    const idleCpuPerS = (totalCpuSeconds(target.pids) - cpu0) / ((performance.now() - t0) / 1000);
    figures[FIGURE.idleCpu] = idleCpuPerS;

    // Registration → visibility.
    for (const r of registrants) r.command("go");
    const expectedSeen = () => {
      let missing = 0;
      for (const addr of registered.keys()) {
        for (const w of watchesOf(serviceOf(addr))) if (!seen.has(pair(w, addr))) missing++;
      }
      return missing;
    };
    await until(
      "registrations visible",
      REGISTER_TIMEOUT_MS,
      () => allRegistered === registrants.length && expectedSeen() === 0,
    );
    const visible: number[] = [];
    const calls: number[] = [];
    let firstStart = Number.POSITIVE_INFINITY;
    let lastSeen = 0;
    for (const [addr, r] of registered) {
      calls.push(r.endMs - r.startMs);
      firstStart = Math.min(firstStart, r.startMs);
      for (const w of watchesOf(serviceOf(addr))) {
        const at = seen.get(pair(w, addr))!;
        visible.push(at - r.startMs);
        lastSeen = Math.max(lastSeen, at);
      }
    }
    const allVisibleS = (lastSeen - firstStart) / 1000;
    Object.assign(figures, {
      [FIGURE.instances]: registered.size,
      [FIGURE.failedRegistrations]: failed,
      [FIGURE.registerP50]: percentile(calls, 50),
      [FIGURE.registerP99]: percentile(calls, 99),
      [FIGURE.allVisibleS]: allVisibleS,
      [FIGURE.registrationsPerS]: registered.size / allVisibleS,
      [FIGURE.visibleP50]: percentile(visible, 50),
      [FIGURE.visibleP99]: percentile(visible, 99),
    });
    console.error(
      `  ${target.system}: ${registered.size} instances visible to every watcher in ` +
        `${allVisibleS.toFixed(2)} s (visible p50 ${percentile(visible, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(visible, 99).toFixed(1)} ms; ${failed} failed)`,
    );

    // Steady keep-alive, after one keep-alive interval so every lease is in its rhythm.
    await sleep((options.ttlSeconds * 1000) / 3 + 1000);
    const keepAlives = async () => {
      counts.clear();
      for (const r of registrants) r.command("count");
      await until("keep-alive counts", COUNT_TIMEOUT_MS, () => counts.size === registrants.length);
      return [...counts.values()].reduce((a, b) => a + b, 0);
    };
    const k0 = await keepAlives();
    cpu0 = totalCpuSeconds(target.pids);
    t0 = performance.now();
    const wall0 = wallMs();
    await sleep(options.steadyMs);
    const cpu1 = totalCpuSeconds(target.pids);
    const seconds = (performance.now() - t0) / 1000;
    const k1 = await keepAlives();
    const cpuPerS = (cpu1 - cpu0) / seconds;
    const n = registered.size;
    Object.assign(figures, {
      [FIGURE.steadyCpu]: cpuPerS,
      [FIGURE.cpuPerInstanceMin]: (cpuPerS * 60) / n,
      [FIGURE.netCpuPerInstanceMin]: ((cpuPerS - idleCpuPerS) * 60) / n,
      [FIGURE.keepAlivesPerS]: (k1 - k0) / seconds,
      [FIGURE.keepAlivesPerInstanceMin]: ((k1 - k0) / seconds / n) * 60,
      [FIGURE.lostInSteady]: [...gone.values()].filter((at) => at >= wall0).length,
    });
    console.error(
      `  ${target.system}: keep-alive ${cpuPerS.toFixed(3)} server CPU s/s ` +
        `(idle ${idleCpuPerS.toFixed(3)}), ${((k1 - k0) / seconds).toFixed(0)} keep-alives/s, ` +
        `${figures[FIGURE.lostInSteady]} instances lost from a set`,
    );

    // Death → removal: SIGKILL registrant 0. Its instances that some watch
    // no longer holds (a lease lost under load) are counted, not timed.
    const killed = [...registered].filter(([, r]) => r.registrant === 0).map(([addr]) => addr);
    const victims = killed.filter((addr) =>
      watchesOf(serviceOf(addr)).every((w) => present.has(pair(w, addr))),
    );
    const killedAt = wallMs();
    registrants[0]!.kill("SIGKILL");
    const removedAt = (addr: string) => {
      const times = watchesOf(serviceOf(addr)).map((w) => gone.get(pair(w, addr)) ?? Number.NaN);
      return times.every((t) => t >= killedAt) ? Math.max(...times) : undefined;
    };
    await until("killed instances removed", options.ttlSeconds * 1000 + 30_000, () =>
      victims.every((addr) => removedAt(addr) !== undefined),
    );
    const removal = victims.map((addr) => removedAt(addr)! - killedAt);
    const ttlMs = options.ttlSeconds * 1000;
    const others = [...gone].filter(
      ([key, at]) => at >= killedAt && !victims.includes(key.slice(key.indexOf("|") + 1)),
    ).length;
    Object.assign(figures, {
      [FIGURE.deathInstances]: victims.length,
      [FIGURE.deathAbsentAtKill]: killed.length - victims.length,
      [FIGURE.deathP50]: percentile(removal, 50),
      [FIGURE.deathP99]: percentile(removal, 99),
      [FIGURE.deathMax]: Math.max(...removal),
      [FIGURE.deathP50AfterTtl]: percentile(removal, 50) - ttlMs,
      [FIGURE.deathMaxAfterTtl]: Math.max(...removal) - ttlMs,
      [FIGURE.deathOthersRemoved]: others,
    });
    console.error(
      `  ${target.system}: ${victims.length} instances of a killed registrant gone from every set ` +
        `after p50 ${percentile(removal, 50).toFixed(0)} ms, max ${Math.max(...removal).toFixed(0)} ms ` +
        `(TTL ${ttlMs} ms)`,
    );
  } finally {
    // The rest deregister (their leases revoked), so the next phase starts clean.
    const live = registrants.filter((r) => !r.hasExited);
    for (const r of live) r.command("stop");
    await Promise.race([Promise.all(live.map((r) => r.exited)), sleep(STOP_TIMEOUT_MS)]);
    await Promise.all(children.map((c) => c.stop()));
  }
}
