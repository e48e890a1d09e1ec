/**
 * The history of one nemesis run as the linearizability checker reads it:
 * every operation with its call time, and its return time and output when
 * it returned. An operation that failed or timed out has neither: a write
 * may or may not have taken effect, and the checker tries both.
 */
import type { KvInput, KvOperation, KvOutput } from "../../src/sim/lincheck/index.js";

export class HistoryRecorder {
  readonly operations: KvOperation[] = [];
  readonly #t0 = performance.now();
  #nextId = 0;

  /** Milliseconds since the run started, from a monotonic clock. */
  now(): number {
    return performance.now() - this.#t0;
  }

  /**
   * Runs `call` as operation `input` of client `clientId` and records it.
   * Resolves to the output, or undefined when the outcome is unknown.
   */
  async record<O extends KvOutput>(
    clientId: number,
    input: KvInput,
    call: () => Promise<O>,
  ): Promise<O | undefined> {
    const id = this.#nextId++;
    const callAt = this.now();
    try {
      const output = await call();
      this.operations.push({ id, clientId, input, call: callAt, output, ret: this.now() });
      return output;
    } catch {
      this.operations.push({ id, clientId, input, call: callAt });
      return undefined;
    }
  }

  get completed(): number {
    return this.operations.filter((op) => op.ret !== undefined).length;
  }

  get unknown(): number {
    return this.operations.length - this.completed;
  }

  /** Every key an operation touched. */
  keys(): string[] {
    return [...new Set(this.operations.map((op) => op.input.key))].sort();
  }
}
