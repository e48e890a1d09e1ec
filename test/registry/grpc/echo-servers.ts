import { fileURLToPath } from "node:url";
import {
  type CallOptions,
  type ChannelOptions,
  type Client,
  credentials,
  loadPackageDefinition,
  Metadata,
  Server,
  ServerCredentials,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { freePort } from "../../support/free-port.js";

const protoPath = fileURLToPath(new URL("./echo.proto", import.meta.url));
const loaded = loadPackageDefinition(loadSync(protoPath)) as unknown as {
  conclave: { test: { Echo: ServiceClientConstructor } };
};
const Echo = loaded.conclave.test.Echo;

/** One Echo server on 127.0.0.1 that counts the calls it answers. */
export class EchoServer {
  calls = 0;
  private constructor(
    readonly name: string,
    readonly port: number,
    private readonly server: Server,
  ) {}

  static async start(name: string): Promise<EchoServer> {
    const server = new Server();
    const port = await freePort();
    const echo = new EchoServer(name, port, server);
    server.addService(Echo.service, {
      Who: (_call: unknown, callback: (error: null, reply: { server: string }) => void) => {
        echo.calls++;
        callback(null, { server: name });
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    return echo;
  }

  /** The node id the hash policy gives this server's endpoint. */
  get nodeId(): string {
    return `[127.0.0.1:${this.port}]`;
  }

  kill(): void {
    this.server.forceShutdown();
  }
}

export type EchoClient = Client & {
  Who(
    request: object,
    metadata: Metadata,
    options: CallOptions,
    callback: (error: ServiceError | null, reply?: { server: string }) => void,
  ): void;
};

export function echoClient(target: string, options: ChannelOptions = {}): EchoClient {
  return new Echo(target, credentials.createInsecure(), options) as unknown as EchoClient;
}

/** One call: the answering server's name, or the call's error. */
export function who(
  client: EchoClient,
  key?: { name: string; value: string },
): Promise<{ server: string } | { error: ServiceError }> {
  const metadata = new Metadata();
  if (key !== undefined) metadata.set(key.name, key.value);
  return new Promise((resolve) =>
    // A deadline bounds every call: a test never hangs on one.
    client.Who({}, metadata, { deadline: Date.now() + 5000 }, (error, reply) =>
      resolve(error ? { error } : { server: reply!.server }),
    ),
  );
}
