import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import { HttpApiError } from "./errors.js";
import type { KvAccess } from "./kv-access.js";
import { sseEvent } from "./watch-frames.js";

/** More event streams are open on this member than it serves at once. */
export class TooManyEventStreamsError extends HttpApiError {
  constructor(limit: number) {
    super(
      429,
      "TOO_MANY_EVENT_STREAMS",
      `this member already serves ${limit} cluster event streams; close one or try later`,
    );
  }
}

/** Who leads in which term, as this member sees it. */
export interface RoleEventJson {
  readonly id: number;
  readonly role: string;
  readonly term: number;
  /** null while no leader is known. */
  readonly leader: number | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly revision: number;
  /** This member's clock when it noticed (for a timeline, not for ordering). */
  readonly atMs: number;
}

/** How far this member's log and key space have come. */
export interface ProgressEventJson {
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly revision: number;
  readonly atMs: number;
}

export interface ClusterEventLimits {
  /** How often the member's state is sampled while a stream is open. */
  readonly sampleIntervalMs: number;
  /** A quiet stream is sent its unchanged progress this often, so proxies keep it open. */
  readonly keepAliveMs: number;
  /** Streams one member serves at once. */
  readonly maxStreams: number;
  /** A stream whose unsent bytes exceed this is ended: its reader is too slow. */
  readonly maxBufferedBytes: number;
  /** Every stream ends after this long; the client opens a new one (and shows the gap, if any). */
  readonly maxStreamMs: number;
}

export const DEFAULT_CLUSTER_EVENT_LIMITS: ClusterEventLimits = {
  sampleIntervalMs: 200,
  keepAliveMs: 5_000,
  maxStreams: 64,
  maxBufferedBytes: 256 * 1024,
  maxStreamMs: 10 * 60_000,
};

interface Sample {
  readonly role: RoleEventJson;
  readonly progress: ProgressEventJson;
  /** What a `role` event is sent on a change of: role, term and leader. */
  readonly roleKey: string;
  /** What a `progress` event is sent on a change of (the time aside). */
  readonly progressKey: string;
}

/**
 * One open stream: it is sent a `role` event first and on every change of
 * role, term or leader, and a `progress` event whenever the commit index,
 * applied index or revision moved since the last one (and at least every
 * keepAliveMs).
 */
class EventStream {
  readonly #raw: ServerResponse;
  readonly #limits: ClusterEventLimits;
  readonly #onEnd: (stream: EventStream) => void;
  #lastRole = "";
  #lastProgress = "";
  #lastWriteMs: number;
  readonly #openedMs: number;
  #ended = false;

  constructor(
    raw: ServerResponse,
    limits: ClusterEventLimits,
    nowMs: number,
    onEnd: (s: EventStream) => void,
  ) {
    this.#raw = raw;
    this.#limits = limits;
    this.#onEnd = onEnd;
    this.#openedMs = nowMs;
    this.#lastWriteMs = nowMs;
    raw.on("close", () => this.end());
  }

  open(): void {
    this.#raw.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    this.#raw.flushHeaders();
  }

  /** Sends what changed since the last sample this stream saw. */
  send(sample: Sample, nowMs: number): void {
    if (this.#ended) return;
    if (this.#raw.writableLength > this.#limits.maxBufferedBytes) {
      this.end(
        sseEvent("error", { code: "STREAM_TOO_SLOW", message: "the stream was read too slowly" }),
      );
      return;
    }
    if (nowMs - this.#openedMs >= this.#limits.maxStreamMs) {
      this.end(
        sseEvent("end", { reason: "the stream reached its longest duration; open a new one" }),
      );
      return;
    }
    let out = "";
    if (sample.roleKey !== this.#lastRole) {
      this.#lastRole = sample.roleKey;
      out += sseEvent("role", sample.role);
    }
    if (sample.progressKey !== this.#lastProgress) {
      this.#lastProgress = sample.progressKey;
      out += sseEvent("progress", sample.progress);
    }
    // Unchanged progress is sent again now and then: it keeps proxies from closing a quiet
    // stream, and gives a chart a point even while nothing is written.
    if (out === "" && nowMs - this.#lastWriteMs >= this.#limits.keepAliveMs) {
      out = sseEvent("progress", sample.progress);
    }
    if (out === "") return;
    this.#lastWriteMs = nowMs;
    this.#raw.write(out);
  }

  end(last?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#raw.writableEnded) this.#raw.end(last);
    this.#onEnd(this);
  }
}

/**
 * The streams of one server, fed by one sampler that runs only while a
 * stream is open. The node is sampled rather than observed: its observer is
 * the process's metrics, fixed when the node starts, and a few cheap
 * status reads a second cost less than another hook on its hot path.
 */
class ClusterEventHub {
  readonly #kv: KvAccess;
  readonly #limits: ClusterEventLimits;
  readonly #now: () => number;
  readonly #streams = new Set<EventStream>();
  #timer: NodeJS.Timeout | undefined;

  constructor(kv: KvAccess, limits: ClusterEventLimits, now: () => number) {
    this.#kv = kv;
    this.#limits = limits;
    this.#now = now;
  }

  get openCount(): number {
    return this.#streams.size;
  }

  admit(): void {
    if (this.#streams.size >= this.#limits.maxStreams) {
      throw new TooManyEventStreamsError(this.#limits.maxStreams);
    }
  }

  add(raw: ServerResponse): void {
    const stream = new EventStream(raw, this.#limits, this.#now(), (s) => this.#remove(s));
    this.#streams.add(stream);
    stream.open();
    stream.send(this.#sample(), this.#now());
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), this.#limits.sampleIntervalMs);
      this.#timer.unref();
    }
  }

  closeAll(): void {
    for (const s of [...this.#streams]) {
      s.end(sseEvent("end", { reason: "the server is shutting down" }));
    }
  }

  #remove(stream: EventStream): void {
    this.#streams.delete(stream);
    if (this.#streams.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #tick(): void {
    const sample = this.#sample();
    const now = this.#now();
    for (const s of [...this.#streams]) s.send(sample, now);
  }

  #sample(): Sample {
    const st = this.#kv.node.status();
    const revision = this.#kv.store.revision;
    const atMs = this.#now();
    const leader = st.leader === 0 ? null : st.leader;
    return {
      roleKey: `${st.role}/${st.term}/${leader}`,
      progressKey: `${st.commitIndex}/${st.appliedIndex}/${st.lastIndex}/${revision}`,
      role: {
        id: st.id,
        role: st.role,
        term: st.term,
        leader,
        commitIndex: st.commitIndex,
        appliedIndex: st.appliedIndex,
        revision,
        atMs,
      },
      progress: {
        commitIndex: st.commitIndex,
        appliedIndex: st.appliedIndex,
        lastIndex: st.lastIndex,
        revision,
        atMs,
      },
    };
  }
}

/**
 * `GET /v3/cluster/events`: a server-sent-event stream of this member's
 * view of the cluster — `role` events when its role, term or known leader
 * change, `progress` events as its commit index, applied index and revision
 * move. Local like a watch: each member reports what it sees.
 */
export function registerClusterEventRoutes(
  app: FastifyInstance,
  kv: KvAccess,
  limits: ClusterEventLimits = DEFAULT_CLUSTER_EVENT_LIMITS,
  now: () => number = Date.now,
): { readonly openCount: number } {
  const hub = new ClusterEventHub(kv, limits, now);
  app.addHook("preClose", async () => hub.closeAll());
  app.get(
    "/v3/cluster/events",
    {
      // A HEAD must not open a stream that only the reader's disconnect would end.
      exposeHeadRoute: false,
      schema: {
        summary: "Server-sent events: this member's role, term, leader and log progress",
        querystring: { type: "object", properties: {}, additionalProperties: false },
      },
    },
    async (_req, reply) => {
      // Refused with an ordinary JSON error while no byte of the stream is out.
      hub.admit();
      reply.hijack();
      hub.add(reply.raw);
      return reply;
    },
  );
  return {
    get openCount() {
      return hub.openCount;
    },
  };
}
