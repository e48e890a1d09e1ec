/**
 * The small replicated KV state machine the simulator's clients use. Writes
 * carry (client, seq); a command already applied is answered from the
 * session table instead of being applied again, so client retries are safe.
 */

import type { KvInput, KvOutput } from "./lincheck/kv-model.js";

export type { KvInput, KvOutput };

export interface KvCommand {
  readonly client: number;
  readonly seq: number;
  readonly input: KvInput;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(decoder.decode(data)) as KvCommand;
}

export class KvStateMachine {
  private data = new Map<string, string>();
  /** client -> seq -> output of every command applied for it. */
  private sessions = new Map<number, Map<number, KvOutput>>();
  appliedIndex = 0;

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  apply(index: number, cmd: KvCommand): KvOutput {
    this.appliedIndex = index;
    let session = this.sessions.get(cmd.client);
    if (session === undefined) {
      session = new Map();
      this.sessions.set(cmd.client, session);
    }
    const seen = session.get(cmd.seq);
    if (seen !== undefined) return seen;
    const out = this.execute(cmd.input);
    session.set(cmd.seq, out);
    return out;
  }

  private execute(input: KvInput): KvOutput {
    switch (input.op) {
      case "get":
        return { value: this.get(input.key) };
      case "put":
        this.data.set(input.key, input.value);
        return {};
      case "delete": {
        const existed = this.data.delete(input.key);
        return { existed };
      }
      case "cas": {
        if (this.get(input.key) !== input.expected) return { ok: false };
        this.data.set(input.key, input.value);
        return { ok: true };
      }
    }
  }

  snapshot(): Uint8Array {
    return encoder.encode(
      JSON.stringify({
        appliedIndex: this.appliedIndex,
        data: [...this.data],
        sessions: [...this.sessions].map(([c, s]) => [c, [...s]]),
      }),
    );
  }

  static restore(bytes: Uint8Array): KvStateMachine {
    const kv = new KvStateMachine();
    if (bytes.byteLength === 0) return kv;
    const raw = JSON.parse(decoder.decode(bytes)) as {
      appliedIndex: number;
      data: [string, string][];
      sessions: [number, [number, KvOutput][]][];
    };
    kv.appliedIndex = raw.appliedIndex;
    kv.data = new Map(raw.data);
    kv.sessions = new Map(raw.sessions.map(([c, s]) => [c, new Map(s)]));
    return kv;
  }
}
