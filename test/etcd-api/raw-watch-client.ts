/**
 * A raw @grpc/grpc-js client of etcd's Watch service, for tests of the
 * protocol's details: it records every response of one stream.
 */
import {
  type ClientDuplexStream,
  credentials,
  Metadata,
  makeClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { etcdServices } from "../../src/server/grpc/protos.js";
import { waitFor } from "../support/wait-for.js";

export interface RawEvent {
  readonly type?: string;
  readonly kv: Record<string, string>;
  readonly prev_kv?: Record<string, string>;
}

export interface RawWatchResponse {
  readonly header: Record<string, string>;
  readonly watch_id?: string;
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly compact_revision?: string;
  readonly cancel_reason?: string;
  readonly fragment?: boolean;
  readonly events?: RawEvent[];
}

type Duplex = ClientDuplexStream<Record<string, unknown>, RawWatchResponse>;

export const b64 = (text: string): string => Buffer.from(text).toString("base64");
export const text = (base64: string | undefined): string =>
  Buffer.from(base64 ?? "", "base64").toString();

export class RawWatchClient {
  readonly responses: RawWatchResponse[] = [];
  error: ServiceError | undefined;
  ended = false;
  private readonly stream: Duplex;
  private readonly close: () => void;

  constructor(address: string, token?: string) {
    const Client = makeClientConstructor(etcdServices().Watch, "Watch");
    const client = new Client(address, credentials.createInsecure());
    const metadata = new Metadata();
    if (token !== undefined) metadata.set("token", token);
    this.stream = (client as unknown as { Watch(m: Metadata): Duplex }).Watch(metadata);
    this.stream.on("data", (r: RawWatchResponse) => this.responses.push(r));
    this.stream.on("error", (e: ServiceError) => {
      this.error = e;
    });
    this.stream.on("end", () => {
      this.ended = true;
    });
    this.close = () => client.close();
  }

  write(request: Record<string, unknown>): void {
    this.stream.write(request);
  }

  create(create: Record<string, unknown>): void {
    this.write({ create_request: create });
  }

  /** Waits until `count` responses arrived in all; resolves with them. */
  async next(count: number, what = `${count} watch responses`): Promise<RawWatchResponse[]> {
    await waitFor(() => this.responses.length >= count, what);
    return this.responses.slice(0, count);
  }

  /** Waits for a response matching `match` and resolves with it. */
  async until(
    match: (r: RawWatchResponse) => boolean,
    what: string,
    timeoutMs = 5000,
  ): Promise<RawWatchResponse> {
    return waitFor(() => this.responses.find(match), what, timeoutMs);
  }

  /** Events of `watchId` received so far, as "PUT key=value" / "DELETE key". */
  eventsOf(watchId: string | undefined): string[] {
    return this.responses
      .filter((r) => r.watch_id === watchId && r.events !== undefined)
      .flatMap((r) => r.events!)
      .map((e) =>
        e.type === "DELETE"
          ? `DELETE ${text(e.kv.key)}`
          : `PUT ${text(e.kv.key)}=${text(e.kv.value)}`,
      );
  }

  /** Stops reading: the server's messages back up behind the stream's flow control. */
  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  cancel(): void {
    this.stream.cancel();
    this.close();
  }
}
