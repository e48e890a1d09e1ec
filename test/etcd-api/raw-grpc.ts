/**
 * A plain grpc-js client of one etcd service, from the package's proto
 * files: calls the services by name, as the wire defines them, for what
 * etcdctl and npm etcd3 do not reach (v3lock, v3election, a stale token).
 */
import {
  type Client,
  credentials,
  Metadata,
  makeClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { type EtcdServices, etcdServices } from "../../src/server/grpc/protos.js";

export type Message = Record<string, unknown>;

export interface RawCallOptions {
  readonly token?: string;
  readonly signal?: AbortSignal;
}

type AnyMethod = (...args: unknown[]) => unknown;

export class RawEtcdClient {
  readonly #client: Client;

  constructor(address: string, service: keyof EtcdServices) {
    const Ctor = makeClientConstructor(etcdServices()[service], service);
    this.#client = new Ctor(address, credentials.createInsecure());
  }

  /** A unary call; rejects with the ServiceError (code, details). */
  unary(method: string, request: Message, options: RawCallOptions = {}): Promise<Message> {
    const metadata = new Metadata();
    if (options.token !== undefined) metadata.set("token", options.token);
    const fn = this.#method(method);
    return new Promise((resolve, reject) => {
      const call = fn.call(
        this.#client,
        request,
        metadata,
        (err: ServiceError | null, reply: Message) => (err === null ? resolve(reply) : reject(err)),
      ) as { cancel(): void };
      options.signal?.addEventListener("abort", () => call.cancel(), { once: true });
    });
  }

  /** A server stream: every message it sends goes to `onMessage`; the stream is returned to cancel. */
  stream(
    method: string,
    request: Message,
    onMessage: (m: Message) => void,
    options: RawCallOptions = {},
  ): { cancel(): void; ended: Promise<ServiceError | undefined> } {
    const metadata = new Metadata();
    if (options.token !== undefined) metadata.set("token", options.token);
    const fn = this.#method(method);
    const call = fn.call(this.#client, request, metadata) as NodeJS.EventEmitter & {
      cancel(): void;
    };
    call.on("data", onMessage);
    const ended = new Promise<ServiceError | undefined>((resolve) => {
      call.on("error", (e: ServiceError) => resolve(e));
      call.on("end", () => resolve(undefined));
    });
    return { cancel: () => call.cancel(), ended };
  }

  #method(name: string): AnyMethod {
    const fn = (this.#client as unknown as Record<string, AnyMethod | undefined>)[name];
    if (fn === undefined) throw new Error(`no method ${name}`);
    return fn;
  }

  close(): void {
    this.#client.close();
  }
}
