/**
 * A loopback TCP proxy that can drop the connection at the worst moment: the
 * request went through, the server acted on it, and the reply is lost with
 * the connection. Later connections pass normally.
 */
import net from "node:net";
import { listenOnLoopback, portOf } from "../../support/loopback-server.js";

export class ReplyDroppingProxy {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #armed = false;
  #dropped = 0;

  private constructor(server: net.Server) {
    this.#server = server;
  }

  static async start(targetPort: number): Promise<ReplyDroppingProxy> {
    const server = net.createServer();
    const proxy = new ReplyDroppingProxy(server);
    server.on("connection", (client) => proxy.#accept(client, targetPort));
    await listenOnLoopback(server);
    return proxy;
  }

  get port(): number {
    return portOf(this.#server);
  }

  /** Connections dropped so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The next reply from the server is not forwarded: its connection is closed instead. */
  dropNextReply(): void {
    this.#armed = true;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket, port: number): void {
    const upstream = net.connect(port, "127.0.0.1");
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      if (this.#armed) {
        this.#armed = false;
        this.#dropped += 1;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
  }
}
