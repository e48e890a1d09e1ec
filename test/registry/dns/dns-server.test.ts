import dgram from "node:dgram";
import net from "node:net";
import * as dnsPacket from "dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seededRandom } from "../../../src/client/index.js";
import { InvalidArgumentError } from "../../../src/errors.js";
import { DnsServer } from "../../../src/registry/dns/dns-server.js";
import { validateInstance } from "../../../src/registry/instance.js";
import { waitFor } from "../../support/wait-for.js";

const ORDERS = [validateInstance({ service: "orders", id: "a", address: "10.0.0.1", port: 80 })];
let server: DnsServer;

beforeAll(async () => {
  server = await DnsServer.listen({
    port: 0,
    maxTcpConnections: 2,
    random: seededRandom(3),
    source: {
      async instances(service) {
        return service === "orders" ? { service, revision: 1, instances: ORDERS } : undefined;
      },
    },
  });
});
afterAll(async () => {
  await server?.close();
});

function query(id: number, name: string): Buffer {
  return dnsPacket.encode({ type: "query", id, questions: [{ name, type: "A" }] });
}

function frame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length);
  return Buffer.concat([prefix, message]);
}

/** Connects and collects whole answers until `count` arrived or the connection closed. */
function tcpExchange(bytes: Buffer, count: number) {
  return new Promise<{ answers: dnsPacket.DecodedPacket[]; closed: boolean }>((resolve) => {
    const answers: dnsPacket.DecodedPacket[] = [];
    let buffered = Buffer.alloc(0);
    const socket = net.connect(server.port, "127.0.0.1", () => socket.write(bytes));
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        answers.push(dnsPacket.decode(buffered.subarray(2, 2 + buffered.readUInt16BE(0))));
        buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
      }
      if (answers.length >= count) {
        socket.end();
        resolve({ answers, closed: false });
      }
    });
    socket.on("close", () => resolve({ answers, closed: true }));
    // A refused connection is reset: it ends in "close" all the same.
    socket.on("error", () => {});
  });
}

describe("DnsServer", () => {
  it("answers UDP and TCP on one port", async () => {
    const udp = dgram.createSocket("udp4");
    const reply = await new Promise<Buffer>((resolve) => {
      udp.once("message", resolve);
      udp.send(query(7, "orders.service.conclave"), server.port, "127.0.0.1");
    });
    udp.close();
    expect(dnsPacket.decode(reply).answers?.map((a) => (a as { data: unknown }).data)).toEqual([
      "10.0.0.1",
    ]);
    const tcp = await tcpExchange(frame(query(8, "orders.service.conclave")), 1);
    expect(tcp.answers[0]?.id).toBe(8);
    expect(server.domain).toBe("conclave.");
  });

  it("answers pipelined TCP queries in order, split across writes as they come", async () => {
    const bytes = Buffer.concat([
      frame(query(1, "orders.service.conclave")),
      frame(query(2, "nothing.service.conclave")),
      frame(query(3, "example.org")),
    ]);
    const { answers } = await tcpExchange(bytes, 3);
    expect(answers.map((a) => a.id)).toEqual([1, 2, 3]);
  });

  it("closes a connection whose frame cannot be a DNS message", async () => {
    const { answers, closed } = await tcpExchange(Buffer.from([0, 4, 0, 0, 0, 0]), 1);
    expect(answers).toEqual([]);
    expect(closed).toBe(true);
  });

  it("holds at most maxTcpConnections open", async () => {
    await waitFor(() => server.tcpConnections === 0, "earlier connections to close");
    const open = await Promise.all(
      [1, 2].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(server.port, "127.0.0.1", () => resolve(s));
          }),
      ),
    );
    const third = await tcpExchange(frame(query(9, "orders.service.conclave")), 1);
    expect(third.closed).toBe(true);
    expect(third.answers).toEqual([]);
    expect(server.tcpConnections).toBe(2);
    for (const s of open) s.destroy();
    await waitFor(() => server.tcpConnections === 0, "the connections to close");
  });

  it("refuses bad options with a typed error", async () => {
    const source = { instances: async () => undefined };
    await expect(DnsServer.listen({ port: 70_000, source })).rejects.toThrow(InvalidArgumentError);
    await expect(DnsServer.listen({ port: 0, source, ttlSeconds: -1 })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(DnsServer.listen({ port: 0, source, domain: "a..b" })).rejects.toThrow(
      InvalidArgumentError,
    );
  });

  it("frees its port on close", async () => {
    const other = await DnsServer.listen({ port: 0, source: { instances: async () => undefined } });
    const { port } = other;
    await other.close();
    const again = await DnsServer.listen({ port, source: { instances: async () => undefined } });
    expect(again.port).toBe(port);
    await again.close();
  });
});
