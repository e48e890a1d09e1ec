import type { StateMachine } from "../../src/raft/node/ports.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

export const bytes = (s: string): Uint8Array => enc.encode(s);
export const text = (b: Uint8Array): string => dec.decode(b);

/** Where an entry was applied: the recording state machine's result for every proposal. */
export interface Position {
  readonly index: number;
  readonly term: number;
}

/** Records the payloads it applies; its snapshot is that record. */
export class RecordingMachine implements StateMachine<Position> {
  records: string[] = [];

  apply(e: { index: number; term: number; data: Uint8Array }): Position {
    this.records.push(text(e.data));
    return { index: e.index, term: e.term };
  }

  snapshot(): Uint8Array {
    return bytes(JSON.stringify(this.records));
  }

  async restore(data: AsyncIterable<Uint8Array>): Promise<void> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of data) chunks.push(chunk);
    const all = Buffer.concat(chunks);
    this.records = all.byteLength === 0 ? [] : (JSON.parse(text(all)) as string[]);
  }
}
