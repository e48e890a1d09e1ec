/**
 * A loopback TCP proxy in front of one member's peer port, advertised as that
 * member's peer address, that can cut the links from chosen peers into it.
 *
 * Every member dials its own message connection to each peer (and one per
 * snapshot), so all traffic from A to B arrives at B's proxy on connections
 * A opened. The proxy reads the dialer's node id from the first frame of the
 * peer handshake (the Hello, sent in the clear before anything is proven) and
 * so can stop A → B while C → B flows on. Cutting a link stops both
 * directions of the connections A dialed into B: A's messages and B's
 * handshake answers. B → A travels on B's own connections through A's proxy.
 */
import net from "node:net";
import { FrameKind } from "../../src/raft/transport/frame.js";
import { unpackOne } from "../../src/raft/transport/message-codec.js";
import { listenOnLoopback, portOf } from "./loopback-server.js";

/** A Hello is tiny; a first frame larger than this is not one and is passed through unnamed. */
const MAX_HELLO_BYTES = 1024;
const FRAME_HEADER_BYTES = 5;
/** The dialer's node id is the fourth field of the Hello (see handshake.ts). */
const HELLO_CLIENT_ID_FIELD = 3;

/** How a cut link behaves: bytes held back until heal, or connections torn down and refused. */
export type CutMode = "hold" | "reset";

interface Link {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  readonly from: number | undefined;
  /** Unpiped while held, so a drain event cannot resume a held socket. */
  flowing: boolean;
  /** The bytes read to name the dialer, forwarded once the link first flows. */
  head: Buffer | undefined;
}

/** The dialer's node id from a complete Hello frame at the start of `head`, if it is one. */
function helloSender(head: Buffer): number | undefined | "incomplete" {
  if (head.length < FRAME_HEADER_BYTES) return "incomplete";
  const length = head.readUInt32BE(0);
  if (length < 1 || length > MAX_HELLO_BYTES) return undefined;
  if (head.length < 4 + length) return "incomplete";
  if (head[4] !== FrameKind.Hello) return undefined;
  try {
    const fields = unpackOne(head.subarray(FRAME_HEADER_BYTES, 4 + length), "hello");
    const id = Array.isArray(fields) ? fields[HELLO_CLIENT_ID_FIELD] : undefined;
    return typeof id === "number" && Number.isSafeInteger(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

export class PeerLinkProxy {
  readonly #server: net.Server;
  readonly #targetPort: number;
  readonly #links = new Set<Link>();
  /** Dialers whose link into the target is cut, and how. */
  readonly #cut = new Map<number, CutMode>();
  /** Cuts every dialer, including connections not yet named. */
  #cutAll: CutMode | undefined;

  private constructor(server: net.Server, targetPort: number) {
    this.#server = server;
    this.#targetPort = targetPort;
  }

  static async start(targetPort: number): Promise<PeerLinkProxy> {
    const server = net.createServer();
    const proxy = new PeerLinkProxy(server, targetPort);
    server.on("connection", (client) => proxy.#accept(client));
    await listenOnLoopback(server);
    return proxy;
  }

  get port(): number {
    return portOf(this.#server);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Cuts the link from member `from` into the target. */
  cutFrom(from: number, mode: CutMode = "hold"): void {
    this.#cut.set(from, mode);
    this.#apply();
  }

  /** Cuts every link into the target. */
  cutAll(mode: CutMode = "hold"): void {
    this.#cutAll = mode;
    this.#apply();
  }

  heal(): void {
    this.#cut.clear();
    this.#cutAll = undefined;
    this.#apply();
  }

  async close(): Promise<void> {
    for (const link of this.#links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #modeFor(from: number | undefined): CutMode | undefined {
    if (this.#cutAll !== undefined) return this.#cutAll;
    return from === undefined ? undefined : this.#cut.get(from);
  }

  #apply(): void {
    for (const link of [...this.#links]) this.#applyTo(link);
  }

  #applyTo(link: Link): void {
    const mode = this.#modeFor(link.from);
    if (mode === "reset") {
      link.client.destroy();
      link.upstream.destroy();
      return;
    }
    if (mode === "hold" && link.flowing) {
      link.client.unpipe(link.upstream);
      link.upstream.unpipe(link.client);
      link.client.pause();
      link.upstream.pause();
      link.flowing = false;
    } else if (mode === undefined && !link.flowing) {
      if (link.head !== undefined) link.upstream.write(link.head);
      link.head = undefined;
      link.client.pipe(link.upstream);
      link.upstream.pipe(link.client);
      link.flowing = true;
    }
  }

  #accept(client: net.Socket): void {
    client.on("error", () => {});
    if (this.#cutAll === "reset") {
      client.destroy();
      return;
    }
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const from = helloSender(head);
      if (from === "incomplete" && head.length <= MAX_HELLO_BYTES + 4) return;
      client.off("data", onData);
      client.pause();
      this.#connect(client, from === "incomplete" ? undefined : from, head);
    };
    client.on("data", onData);
  }

  #connect(client: net.Socket, from: number | undefined, head: Buffer): void {
    if (this.#modeFor(from) === "reset") {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.#targetPort, "127.0.0.1");
    const link: Link = { client, upstream, from, flowing: false, head };
    upstream.on("error", () => {});
    for (const socket of [client, upstream]) {
      socket.on("close", () => {
        this.#links.delete(link);
        client.destroy();
        upstream.destroy();
      });
    }
    this.#links.add(link);
    this.#applyTo(link);
  }
}
