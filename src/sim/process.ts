import type { Clock } from "../clock.js";
import type { Random } from "../raft/core/prng.js";
import type { Scheduler } from "./scheduler.js";

/**
 * One incarnation of a simulated server process: what its code sees as time
 * and what the world can do to it. Everything that would run in the process
 * — a timer, a finished disk write, a message read from a socket, a client
 * request — enters through `run`, so a paused process (SIGSTOP) holds it
 * until resumed and a crashed one (kill -9) never runs it.
 */
export class SimProcess {
  private state: "running" | "paused" | "dead" = "running";
  private held: (() => void)[] = [];
  private pausedUntil = 0;
  /** This process's clock: virtual time at its own rate (clock skew), timers on the scheduler. */
  readonly clock: Clock;

  constructor(
    private readonly scheduler: Scheduler,
    /** Local milliseconds per virtual millisecond, e.g. 1.02 for a clock 2% fast. */
    private readonly rate: number,
    private readonly random: Random,
  ) {
    this.clock = {
      now: () => this.scheduler.now * this.rate,
      setTimer: (fn, delayMs) =>
        this.scheduler.timer(Math.max(0, delayMs) / this.rate, () => this.run(fn)),
    };
  }

  get alive(): boolean {
    return this.state !== "dead";
  }

  get paused(): boolean {
    return this.state === "paused";
  }

  /** Runs `fn` in this process now, later (paused) or never (dead). */
  run(fn: () => void): void {
    if (this.state === "running") fn();
    else if (this.state === "paused") this.held.push(fn);
  }

  /** Runs `fn` in this process after `delayMs` of virtual time. */
  after(delayMs: number, fn: () => void): void {
    this.scheduler.after(delayMs, () => this.run(fn));
  }

  /** Freezes the process for `forMs` of virtual time (a pause already under way is extended). */
  pause(forMs: number): void {
    if (this.state === "dead") return;
    this.state = "paused";
    const until = this.scheduler.now + forMs;
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.scheduler.at(until, () => {
      if (this.state === "paused" && this.scheduler.now >= this.pausedUntil) this.resume();
    });
  }

  /**
   * Resumes: what was held — overdue timers, finished writes, input read
   * from sockets — runs again in an order that races with new input. A
   * process woken from SIGSTOP may read its sockets before its overdue
   * timers fire, so RaftNode must not act on stale time when input arrives
   * first (it catches up its ticks on every input).
   */
  resume(): void {
    if (this.state !== "paused") return;
    this.state = "running";
    this.pausedUntil = 0;
    const held = this.held;
    this.held = [];
    for (const fn of held) this.scheduler.after(this.random.float() * 5, () => this.run(fn));
  }

  /** kill -9: nothing of this incarnation runs again. */
  kill(): void {
    this.state = "dead";
    this.held = [];
  }
}
