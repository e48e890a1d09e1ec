import type { Xoshiro128 } from "../../../src/raft/core/prng.js";
import type { Entry, Message } from "../../../src/raft/core/types.js";
import { EntryType, message } from "../../../src/raft/core/types.js";
import { encodeFrame, FrameKind } from "../../../src/raft/transport/frame.js";
import { PROTOCOL_MAGIC, PROTOCOL_VERSION } from "../../../src/raft/transport/handshake.js";
import { encodeMessage, packValue } from "../../../src/raft/transport/message-codec.js";
import { sampleMessages } from "./helpers.js";

/** Seeded generators of valid, mutated and random frames for the fuzz tests. */
export class FrameFuzzer {
  constructor(private readonly rng: Xoshiro128) {}

  int(bound: number): number {
    return this.rng.int(bound);
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.rng.int(256);
    return b;
  }

  /** A random valid network message from `from` to `to` (never a snap). */
  message(from: number, to: number): Message {
    const samples = sampleMessages(from, to).filter((m) => m.type !== "snap");
    const base = samples[this.rng.int(samples.length)] as Message;
    const entries: Entry[] = [];
    const n = this.rng.int(4);
    for (let i = 0; i < n; i++) {
      entries.push({
        term: this.rng.int(1000),
        index: this.rng.int(1_000_000),
        type: this.rng.int(2) === 0 ? EntryType.Normal : EntryType.ConfChange,
        data: this.bytes(this.rng.int(200)),
      });
    }
    return message({
      ...base,
      term: this.rng.int(1 << 30),
      index: this.rng.int(1 << 30),
      commit: this.rng.int(1 << 30),
      entries,
      context: this.rng.int(3) === 0 ? "ctx" : "",
    });
  }

  validMessageFrame(from: number, to: number): Buffer {
    return encodeFrame(FrameKind.Message, encodeMessage(this.message(from, to)));
  }

  helloFrame(): Buffer {
    return encodeFrame(
      FrameKind.Hello,
      packValue([PROTOCOL_MAGIC, PROTOCOL_VERSION, "test-cluster", 5, 2, 0, this.bytes(32)]),
    );
  }

  /** Applies 1–3 random mutations to a frame. */
  mutate(frame: Uint8Array): Buffer {
    let b: Buffer = Buffer.from(frame);
    const rounds = 1 + this.rng.int(3);
    for (let r = 0; r < rounds; r++) b = this.mutateOnce(b);
    return b;
  }

  private mutateOnce(b: Buffer): Buffer {
    switch (this.rng.int(9)) {
      case 0: {
        // flip bits
        const out = Buffer.from(b);
        const flips = 1 + this.rng.int(8);
        for (let i = 0; i < flips && out.length > 0; i++) {
          const at = this.rng.int(out.length);
          out[at] = (out[at] as number) ^ (1 << this.rng.int(8));
        }
        return out;
      }
      case 1: {
        // replace bytes in the body with "interesting" MessagePack markers
        const out = Buffer.from(b);
        const markers = [
          0xc0, 0xc1, 0xc4, 0xc5, 0xc6, 0xca, 0xcb, 0xcf, 0xd3, 0xd4, 0xd9, 0xdc, 0xdd, 0xde, 0xdf,
          0xff, 0x00, 0x7f, 0x80, 0x90, 0xa0,
        ];
        const at = 5 + this.rng.int(Math.max(1, out.length - 5));
        if (at < out.length) out[at] = markers[this.rng.int(markers.length)] as number;
        return out;
      }
      case 2:
        // truncate
        return b.subarray(0, this.rng.int(b.length + 1));
      case 3:
        // trailing garbage
        return Buffer.concat([b, this.bytes(1 + this.rng.int(16))]);
      case 4: {
        // a lying length field
        const out = Buffer.from(b);
        if (out.length >= 4) {
          const choices = [
            0,
            1,
            0xffffffff,
            0x7fffffff,
            out.length,
            out.length - 6,
            this.rng.int(1 << 20),
            64 * 1024 + 1,
          ];
          out.writeUInt32BE((choices[this.rng.int(choices.length)] as number) >>> 0, 0);
        }
        return out;
      }
      case 5: {
        // a wrong kind byte
        const out = Buffer.from(b);
        if (out.length >= 5) out[4] = this.rng.int(256);
        return out;
      }
      case 6: {
        // delete a slice of the body
        if (b.length <= 6) return b;
        const at = 5 + this.rng.int(b.length - 5);
        const len = 1 + this.rng.int(Math.min(8, b.length - at));
        return Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
      }
      case 7: {
        // duplicate a slice of the body
        if (b.length <= 6) return b;
        const at = 5 + this.rng.int(b.length - 5);
        const len = 1 + this.rng.int(Math.min(16, b.length - at));
        return Buffer.concat([
          b.subarray(0, at + len),
          b.subarray(at, at + len),
          b.subarray(at + len),
        ]);
      }
      default:
        // a frame header with a random body
        return encodeFrame(FrameKind.Message, this.bytes(this.rng.int(64)));
    }
  }

  /** Entirely random bytes. */
  noise(): Buffer {
    return this.bytes(this.rng.int(96));
  }
}
