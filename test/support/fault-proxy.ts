import net from "node:net";

/**
 * A TCP proxy on 127.0.0.1 that can cut traffic in either direction, used to
 * partition a node's peer port from the others. "Cutting" stops forwarding
 * and destroys the connections (as a firewall reset would); a one-way cut
 * drops bytes flowing in one direction only, leaving the connection up.
 */
export class FaultProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Drop client→target bytes. */
  dropInbound = false;
  /** Drop target→client bytes. */
  dropOutbound = false;
  private refusing = false;
  port = 0;

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = "127.0.0.1",
  ) {}

  async start(port = 0): Promise<number> {
    this.server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  private accept(client: net.Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, this.targetHost);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("data", (b) => {
      if (!this.dropInbound) upstream.write(b);
    });
    upstream.on("data", (b) => {
      if (!this.dropOutbound) client.write(b);
    });
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
  }

  /** Full partition: existing connections reset, new ones refused. */
  cut(): void {
    this.refusing = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  heal(): void {
    this.refusing = false;
    this.dropInbound = false;
    this.dropOutbound = false;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
