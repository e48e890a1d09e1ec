import type { KvEvent, WatchResponse } from "../kv/index.js";
import { header, keyValueJson } from "./wire.js";

/**
 * One server-sent-event message as bytes. An `events` frame is shared by every
 * stream that sends the same events of a revision, so a 1 MiB value watched by
 * a thousand streams is encoded, and held, once.
 */
export class WatchFrame {
  /** Streams that hold this frame (queued or in their socket) and may still send it. */
  liveHolders = 0;
  /** Streams that were ended and hold it only until their socket drains or is destroyed. */
  drainingHolders = 0;

  constructor(
    readonly bytes: Buffer,
    /** Increases with every frame built: a lower number was built earlier. */
    readonly seq: number,
  ) {}

  get byteLength(): number {
    return this.bytes.byteLength;
  }
}

/** The error body a stream ends with. */
export interface WatchErrorJson {
  readonly code: string;
  readonly message: string;
  readonly compact_revision?: string;
}

/** How a watch stream's messages are framed: server-sent events, or etcd's gateway (gateway-watch-frames.ts). */
export interface WatchFrames {
  /** The stream's content type. */
  readonly contentType: string;
  /** What an idle stream sends to keep its connection open; none when the format has no such thing. */
  readonly ping: string | undefined;
  events(response: WatchResponse): WatchFrame;
  created(revision: number): WatchFrame;
  progress(revision: number): WatchFrame;
  error(body: WatchErrorJson): WatchFrame;
}

/**
 * Builds the frames of every watch stream of one server. Event lists come from
 * the store already shared between watchers with the same pick (see
 * WatchHub.deliver); this keys its cache on that identity, so the JSON and
 * base64 of a revision are produced once however many streams carry it.
 */
export class WatchFrameEncoder implements WatchFrames {
  readonly contentType = "text/event-stream";
  readonly ping = ": ping\n\n";

  private readonly shared = new WeakMap<readonly KvEvent[], WatchFrame>();
  private nextSeq = 1;
  private encoded = 0;

  constructor(private readonly onEventsEncoded: () => void = () => {}) {}

  /** `events` frames encoded so far (for tests and metrics): one per distinct event list. */
  get eventFramesEncoded(): number {
    return this.encoded;
  }

  /** The next frame number, for a message built elsewhere (a gRPC watch response) that the budget orders with these. */
  sequence(): number {
    return this.nextSeq++;
  }

  events(response: WatchResponse): WatchFrame {
    const cached = this.shared.get(response.events);
    if (cached !== undefined) return cached;
    const events = response.events.map((e) => ({
      type: e.type === "put" ? "PUT" : "DELETE",
      kv: keyValueJson(e.kv),
      ...(e.prevKv !== undefined && { prev_kv: keyValueJson(e.prevKv) }),
    }));
    const frame = this.message(
      "events",
      { header: header(response.revision), events },
      response.revision,
    );
    this.shared.set(response.events, frame);
    this.encoded++;
    this.onEventsEncoded();
    return frame;
  }

  created(revision: number): WatchFrame {
    return this.message("created", { header: header(revision) });
  }

  progress(revision: number): WatchFrame {
    return this.message("progress", { header: header(revision) });
  }

  error(body: WatchErrorJson): WatchFrame {
    return this.message("error", body);
  }

  private message(event: string, data: object, id?: number): WatchFrame {
    return new WatchFrame(Buffer.from(sseEvent(event, data, id)), this.nextSeq++);
  }
}

/** One server-sent event: its name, an optional id, and `data` as one JSON line. */
export function sseEvent(event: string, data: object, id?: number): string {
  const idLine = id === undefined ? "" : `id: ${id}\n`;
  return `event: ${event}\n${idLine}data: ${JSON.stringify(data)}\n\n`;
}
