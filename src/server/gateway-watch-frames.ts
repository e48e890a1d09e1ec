import type { KvEvent, WatchResponse } from "../kv/index.js";
import { etcdStatus } from "./grpc/status.js";
import type { ResponseHeaderJson } from "./response-header.js";
import {
  type WatchErrorJson,
  WatchFrame,
  type WatchFrameEncoder,
  type WatchFrames,
} from "./watch-frames.js";
import { keyValueJson } from "./wire.js";

/** etcd's text for a watch that starts below the compacted revision. */
const COMPACTED_REASON = "etcdserver: mvcc: required revision has been compacted";

/**
 * A watch stream as etcd's JSON gateway frames it, for HTTP clients written
 * for etcd (Python's etcd3gw, curl scripts): a `POST /v3/watch` whose body
 * is `{"create_request": {...}}` gets one JSON object per line, each
 * `{"result": WatchResponse}` with etcd's zero values left out (a PUT
 * event carries no `type`), or `{"error": {...}}` when the stream fails.
 * Event lists are encoded once however many gateway streams carry them, and
 * frames are numbered by the server's one encoder, so the watch memory
 * budget orders them with every other stream's.
 */
export class GatewayWatchFrames implements WatchFrames {
  readonly contentType = "application/json";
  /** etcd's gateway sends nothing on an idle stream; a comment would not be JSON. */
  readonly ping = undefined;
  private readonly shared = new WeakMap<readonly KvEvent[], WatchFrame>();

  constructor(
    private readonly numbering: Pick<WatchFrameEncoder, "sequence">,
    private readonly header: (revision: number) => ResponseHeaderJson,
  ) {}

  events(response: WatchResponse): WatchFrame {
    const cached = this.shared.get(response.events);
    if (cached !== undefined) return cached;
    const events = response.events.map((e) => ({
      ...(e.type === "delete" && { type: "DELETE" }),
      kv: keyValueJson(e.kv),
      ...(e.prevKv !== undefined && { prev_kv: keyValueJson(e.prevKv) }),
    }));
    const frame = this.line({ result: { header: this.header(response.revision), events } });
    this.shared.set(response.events, frame);
    return frame;
  }

  created(revision: number): WatchFrame {
    return this.line({ result: { header: this.header(revision), created: true } });
  }

  progress(revision: number): WatchFrame {
    return this.line({ result: { header: this.header(revision) } });
  }

  error(body: WatchErrorJson): WatchFrame {
    if (body.compact_revision !== undefined) {
      return this.line({
        result: {
          canceled: true,
          compact_revision: body.compact_revision,
          cancel_reason: COMPACTED_REASON,
        },
      });
    }
    const status = etcdStatus(body.code, body.message, 503);
    return this.line({
      error: { grpc_code: status.code, message: status.details, code: body.code },
    });
  }

  private line(message: object): WatchFrame {
    return new WatchFrame(Buffer.from(`${JSON.stringify(message)}\n`), this.numbering.sequence());
  }
}
