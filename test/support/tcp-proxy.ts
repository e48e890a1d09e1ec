/**
 * A loopback TCP proxy that can black-hole traffic, to partition one client
 * from a server while others stay connected. While cut, connections stay open
 * but nothing is forwarded (like a dropped network link, not a reset); a
 * one-way cut stops only one direction.
 */
import net from "node:net";
import { listenOnLoopback, portOf } from "./loopback-server.js";

export class TcpProxy {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  #cut = false;

  private constructor(server: net.Server) {
    this.#server = server;
  }

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
    const server = net.createServer();
    const proxy = new TcpProxy(server);
    server.on("connection", (client) => proxy.#accept(client, targetPort, targetHost));
    await listenOnLoopback(server);
    return proxy;
  }

  get port(): number {
    return portOf(this.#server);
  }

  #cutInbound = false;
  #cutOutbound = false;

  #refusing = false;

  /**
   * Stops forwarding both ways. By default bytes are held back (a black
   * hole: they flow again on heal); with `reset`, connections are torn down
   * and new ones refused until heal, so whatever was in flight is lost.
   */
  cut(options: { reset?: boolean } = {}): void {
    this.#cut = true;
    if (options.reset === true) {
      this.#refusing = true;
      for (const socket of this.#sockets) socket.destroy();
    }
    this.#apply();
  }

  /** Stops one direction only: "inbound" is client → target, "outbound" target → client. */
  cutOneWay(direction: "inbound" | "outbound"): void {
    if (direction === "inbound") this.#cutInbound = true;
    else this.#cutOutbound = true;
    this.#apply();
  }

  heal(): void {
    this.#refusing = false;
    this.#cut = false;
    this.#cutInbound = false;
    this.#cutOutbound = false;
    this.#apply();
  }

  #apply(): void {
    for (const pair of this.#pairs) this.#applyTo(pair);
  }

  #applyTo([client, upstream]: [net.Socket, net.Socket]): void {
    if (this.#cut || this.#cutInbound) client.pause();
    else client.resume();
    if (this.#cut || this.#cutOutbound) upstream.pause();
    else upstream.resume();
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket, port: number, host: string): void {
    if (this.#refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(port, host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    for (const socket of pair) {
      this.#sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        this.#sockets.delete(socket);
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      });
    }
    this.#pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    this.#applyTo(pair);
  }
}
