/**
 * The fault schedule of one run, drawn from its seed, and the injection of
 * each fault into a {@link ServeCluster}: kill -9 of a member, of the leader
 * and of every member; SIGSTOP/SIGCONT; peer links cut one way and both
 * ways; a member's data dir filling up. One fault at a time: inject, hold,
 * recover, a quiet spell, the next. The seed fixes which faults, targets and
 * durations; process timing still varies from run to run.
 */
import type { RandomSource } from "../../src/client/index.js";
import type { ServeCluster } from "../server/process/serve-cluster.js";
import type { TmpfsDataDir } from "./disk-fill.js";

/** What `conclave serve` logs when its node stops on a storage (or other fatal) error. */
const FATAL_LINE = "raft node stopped on a fatal error";
/** Serve ends itself within its 10 s stop deadline; a little slack on a loaded machine. */
const EXIT_AFTER_FATAL_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const FAULT_KINDS = [
  "kill-member",
  "kill-leader",
  "kill-all",
  "pause",
  "cut-one-way",
  "cut-both-ways",
  "disk-full",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRecord {
  readonly kind: FaultKind;
  /** The member(s) it hit. */
  readonly targets: number[];
  readonly detail?: string;
  readonly atMs: number;
  recoveredAtMs?: number;
}

export interface NemesisOptions {
  readonly cluster: ServeCluster;
  readonly random: RandomSource;
  /** The member whose data dir is on a tmpfs, when mounting worked. */
  readonly diskFull?: { readonly member: number; readonly tmpfs: TmpfsDataDir };
  readonly now: () => number;
  /** Faults start until this many ms after `now()` reads 0. */
  readonly untilMs: number;
  /** Bound on the number of faults, whatever the time. */
  readonly maxFaults: number;
  readonly holdMs: readonly [number, number];
  readonly quietMs: readonly [number, number];
  readonly log: (line: string) => void;
}

/** Sleeps, but wakes early when `stop` is asked for. */
class Sleeper {
  #wake: (() => void) | undefined;
  stopped = false;

  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.#wake = undefined;
        resolve();
      }
      this.#wake = done;
    });
  }

  stop(): void {
    this.stopped = true;
    this.#wake?.();
  }
}

export class Nemesis {
  readonly faults: FaultRecord[] = [];
  readonly #o: NemesisOptions;
  readonly #sleeper = new Sleeper();
  #running: Promise<void> | undefined;
  #failure: unknown;

  constructor(options: NemesisOptions) {
    this.#o = options;
  }

  /** The kinds this run can inject (disk-full only with a tmpfs). */
  get kinds(): FaultKind[] {
    return FAULT_KINDS.filter((k) => k !== "disk-full" || this.#o.diskFull !== undefined);
  }

  #between([lo, hi]: readonly [number, number]): number {
    return lo + Math.floor(this.#o.random() * (hi - lo + 1));
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#o.random() * items.length)]!;
  }

  /** Every kind once in a seeded order, then again: a short run still sees a mix. */
  #shuffled(): FaultKind[] {
    const kinds = this.kinds;
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = Math.floor(this.#o.random() * (i + 1));
      [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
    }
    return kinds;
  }

  start(): void {
    // Held until stop(), so a failed recovery ends the run there instead of as an unhandled rejection.
    this.#running = this.#loop().catch((err: unknown) => {
      this.#failure = err;
    });
  }

  /** Stops injecting; resolves once the fault in progress has been recovered, throws if one could not be. */
  async stop(): Promise<void> {
    this.#sleeper.stop();
    await this.#running;
    if (this.#failure !== undefined) throw this.#failure;
  }

  async #loop(): Promise<void> {
    let queue: FaultKind[] = [];
    while (
      !this.#sleeper.stopped &&
      this.faults.length < this.#o.maxFaults &&
      this.#o.now() < this.#o.untilMs
    ) {
      await this.#sleeper.sleep(this.#between(this.#o.quietMs));
      if (this.#sleeper.stopped || this.#o.now() >= this.#o.untilMs) break;
      if (queue.length === 0) queue = this.#shuffled();
      await this.#inject(queue.shift()!);
    }
  }

  async #inject(kind: FaultKind): Promise<void> {
    const c = this.#o.cluster;
    const holdMs = this.#between(this.#o.holdMs);
    const up = c.ids.filter((id) => c.isRunning(id));
    const record = (targets: number[], detail?: string): FaultRecord => {
      const r: FaultRecord = {
        kind,
        targets,
        atMs: Math.round(this.#o.now()),
        ...(detail !== undefined && { detail }),
      };
      this.faults.push(r);
      this.#o.log(`fault ${kind} on ${targets.join(",")}${detail ? ` (${detail})` : ""}`);
      return r;
    };
    let r: FaultRecord;
    switch (kind) {
      case "kill-member": {
        const id = this.#pick(up);
        r = record([id]);
        await c.kill(id);
        await this.#sleeper.sleep(holdMs);
        await c.restart(id);
        break;
      }
      case "kill-leader": {
        const leader = await c.leader(up);
        const id = leader ?? this.#pick(up);
        r = record([id], leader === undefined ? "no leader known: a random member" : undefined);
        await c.kill(id);
        await this.#sleeper.sleep(holdMs);
        await c.restart(id);
        break;
      }
      case "kill-all": {
        r = record(c.ids);
        await Promise.all(c.ids.map((id) => c.kill(id)));
        await this.#sleeper.sleep(holdMs);
        await Promise.all(c.ids.map((id) => c.restart(id)));
        break;
      }
      case "pause": {
        const leader = this.#o.random() < 0.5 ? await c.leader(up) : undefined;
        const id = leader ?? this.#pick(up);
        r = record([id], leader === undefined ? undefined : "the leader");
        c.signal(id, "SIGSTOP");
        try {
          await this.#sleeper.sleep(holdMs);
        } finally {
          c.signal(id, "SIGCONT");
        }
        break;
      }
      case "cut-one-way":
      case "cut-both-ways": {
        const id = this.#pick(c.ids);
        const mode = this.#o.random() < 0.5 ? "hold" : "reset";
        r = record([id], `links ${kind === "cut-one-way" ? "into it" : "both ways"}, ${mode}`);
        c.cut(id, { oneWay: kind === "cut-one-way", mode });
        await this.#sleeper.sleep(holdMs);
        c.heal();
        break;
      }
      case "disk-full": {
        const { member, tmpfs } = this.#o.diskFull!;
        const filled = tmpfs.fill();
        r = record([member], `${filled} bytes of filler on its ${tmpfs.sizeBytes}-byte tmpfs`);
        const stoppedLoudly = () => c.output(member).includes(FATAL_LINE);
        const until = this.#o.now() + holdMs;
        while (this.#o.now() < until && !stoppedLoudly()) await this.#sleeper.sleep(50);
        tmpfs.free();
        if (stoppedLoudly()) {
          // It stops on the write error; wait for the exit (serve's own stop deadline bounds it).
          const exitBy = this.#o.now() + EXIT_AFTER_FATAL_MS;
          while (c.isRunning(member) && this.#o.now() < exitBy) await sleep(100);
          const code = c.member(member).proc?.child.exitCode;
          this.#o.log(`member ${member} stopped on the full disk (exit ${code ?? "none yet"})`);
          if (c.isRunning(member))
            throw new Error(`member ${member} did not exit after its fatal error`);
          await c.restart(member);
        } else {
          this.#o.log(`member ${member} wrote nothing while its disk was full`);
        }
        break;
      }
    }
    r.recoveredAtMs = Math.round(this.#o.now());
  }
}
