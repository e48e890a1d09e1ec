import type { StateMachine } from "../raft/node/index.js";
import type { KvOutput } from "../sim/kv.js";
import { decodeCommand, KvStateMachine } from "../sim/kv.js";

/** The replicated key-value map of the development node (the simulator's KV, exactly-once per client seq). */
export class KvMachine implements StateMachine<KvOutput> {
  kv = new KvStateMachine();

  apply(e: { index: number; data: Uint8Array }): KvOutput {
    return this.kv.apply(e.index, decodeCommand(e.data));
  }

  snapshot(): Uint8Array {
    return this.kv.snapshot();
  }

  async restore(data: AsyncIterable<Uint8Array>): Promise<void> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of data) chunks.push(chunk);
    this.kv = KvStateMachine.restore(Buffer.concat(chunks));
  }
}
