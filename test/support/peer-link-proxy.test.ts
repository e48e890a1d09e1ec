import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { encodeFrame, FrameKind } from "../../src/raft/transport/frame.js";
import { packValue } from "../../src/raft/transport/message-codec.js";
import { PeerLinkProxy } from "./peer-link-proxy.js";
import { waitFor } from "./wait-for.js";

/** A target that records what each connection sent after its first frame, by dialer id. */
async function recordingTarget() {
  const received = new Map<number, string>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const length = buffered.readUInt32BE(0);
      const id = buffered[4 + length] ?? 0;
      received.set(id, buffered.subarray(4 + length + 1).toString());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  const close = () => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  };
  return { port, received, close };
}

/** Dials like member `id`: a Hello naming it, then one byte with its id, then `text`. */
async function dial(port: number, id: number, text: string): Promise<net.Socket> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const hello = packValue(["conclave-raft", 2, "conclave", id, 9, 0, new Uint8Array(32)]);
  socket.write(
    Buffer.concat([encodeFrame(FrameKind.Hello, hello), Buffer.from([id]), Buffer.from(text)]),
  );
  return socket;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0)) await f();
});

describe("PeerLinkProxy", () => {
  it("names each connection's dialer from its hello and holds only the cut peer's link until heal", async () => {
    const target = await recordingTarget();
    const proxy = await PeerLinkProxy.start(target.port);
    cleanups.push(
      () => target.close(),
      () => proxy.close(),
    );
    proxy.cutFrom(3);
    const two = await dial(proxy.port, 2, "from two");
    const three = await dial(proxy.port, 3, "from three");
    cleanups.push(
      () => void two.destroy(),
      () => void three.destroy(),
    );
    await waitFor(() => target.received.get(2) === "from two", "the uncut link to deliver");
    expect(target.received.has(3)).toBe(false);
    proxy.heal();
    await waitFor(() => target.received.get(3) === "from three", "the healed link to deliver");
  });

  it("with reset, tears down the cut peer's connections and refuses its new ones", async () => {
    const target = await recordingTarget();
    const proxy = await PeerLinkProxy.start(target.port);
    cleanups.push(
      () => target.close(),
      () => proxy.close(),
    );
    const first = await dial(proxy.port, 4, "before");
    const closed = new Promise<void>((resolve) => first.once("close", () => resolve()));
    await waitFor(() => target.received.get(4) === "before", "the link to deliver");
    proxy.cutFrom(4, "reset");
    await closed;
    const again = await dial(proxy.port, 4, "during");
    await new Promise<void>((resolve) => again.once("close", () => resolve()));
    expect(target.received.get(4)).toBe("before");
  });
});
