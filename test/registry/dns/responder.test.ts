import * as dnsPacket from "dns-packet";
import { describe, expect, it } from "vitest";
import { seededRandom } from "../../../src/client/index.js";
import type { AnswerContext } from "../../../src/registry/dns/answer.js";
import { answerDnsMessage } from "../../../src/registry/dns/responder.js";
import type { ServiceSource } from "../../../src/registry/dns/service-source.js";
import {
  type InstanceInput,
  type ServiceInstance,
  validateInstance,
} from "../../../src/registry/instance.js";

function instance(input: Omit<InstanceInput, "service"> & { service?: string }): ServiceInstance {
  return validateInstance({ service: "orders", ...input });
}

const ORDERS = [
  instance({ id: "a", address: "10.0.0.1", port: 8080, weight: 3 }),
  instance({ id: "b", address: "10.0.0.2", port: 8081, status: "warning" }),
  instance({ id: "a2", address: "10.0.0.1", port: 9090 }),
  instance({ id: "c", address: "2001:db8::7", port: 8082 }),
  instance({ id: "d", address: "db.example.com", port: 5432, weight: 7 }),
  instance({ id: "e", address: "10.0.0.9", port: 8083, status: "critical" }),
];
const DOWN = [
  instance({ id: "x", service: "down", address: "10.1.0.1", port: 1, status: "critical" }),
];
const MANY = Array.from({ length: 40 }, (_, i) =>
  instance({ id: `m${i}`, service: "many", address: `10.2.0.${i + 1}`, port: 7000 + i }),
);

const source: ServiceSource = {
  async instances(service) {
    const instances = { orders: ORDERS, down: DOWN, many: MANY }[service];
    if (service === "broken") throw new Error("store unavailable");
    return instances === undefined ? undefined : { service, revision: 7, instances };
  },
};

/** The typings leave out the rcode the decoder sets. */
type Decoded = dnsPacket.DecodedPacket & { readonly rcode: string };
const decode = (bytes: Buffer): Decoded => dnsPacket.decode(bytes) as Decoded;

function context(overrides: Partial<AnswerContext> = {}): AnswerContext {
  return { domain: "conclave", ttlSeconds: 0, source, random: seededRandom(1), ...overrides };
}

interface QueryOptions {
  readonly type?: string;
  readonly edns?: number;
  readonly ednsVersion?: number;
  readonly flags?: number;
  readonly transport?: "udp" | "tcp";
  readonly context?: AnswerContext;
}

function query(name: string, options: QueryOptions = {}): Buffer {
  return dnsPacket.encode({
    type: "query",
    id: 4242,
    flags: options.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: (options.type ?? "A") as dnsPacket.RecordType, class: "IN" }],
    additionals:
      options.edns === undefined
        ? []
        : [
            {
              type: "OPT",
              name: ".",
              udpPayloadSize: options.edns,
              extendedRcode: 0,
              ednsVersion: options.ednsVersion ?? 0,
              flags: 0,
              flag_do: false,
              options: [],
            },
          ],
  });
}

async function ask(name: string, options: QueryOptions = {}) {
  const reply = await answerDnsMessage(
    query(name, options),
    options.transport ?? "udp",
    options.context ?? context(),
  );
  if (reply === undefined) throw new Error("no reply");
  return { bytes: reply.length, packet: decode(reply) };
}

function data(packet: Decoded, section: "answers" | "additionals" = "answers") {
  return (packet[section] ?? [])
    .filter((r) => r.type !== "OPT")
    .map((r) => (r as { data: unknown }).data);
}

describe("DNS answers", () => {
  it("answers A with the served IPv4 instances' addresses, each once", async () => {
    const { packet } = await ask("orders.service.conclave.");
    expect(packet.rcode).toBe("NOERROR");
    expect(packet.flag_aa).toBe(true);
    expect(packet.flag_ra).toBe(false);
    expect(packet.flag_rd).toBe(true);
    expect(packet.id).toBe(4242);
    expect(data(packet).sort()).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(packet.answers?.every((r) => r.type === "A" && r.ttl === 0)).toBe(true);
  });

  it("answers AAAA with IPv6 instances, matching names without regard to case", async () => {
    const { packet } = await ask("Orders.SERVICE.Conclave", { type: "AAAA" });
    expect(packet.rcode).toBe("NOERROR");
    expect(packet.questions?.[0]?.name).toBe("Orders.SERVICE.Conclave");
    expect(data(packet)).toEqual(["2001:db8::7"]);
    expect(packet.answers?.[0]?.name).toBe("Orders.SERVICE.Conclave");
  });

  it("answers SRV with weight, port and a target, and the targets' addresses as additionals", async () => {
    for (const name of ["orders.service.conclave", "_orders._tcp.service.conclave"]) {
      const { packet } = await ask(name, { type: "SRV", transport: "tcp" });
      expect(packet.rcode).toBe("NOERROR");
      const srv = data(packet) as dnsPacket.SrvData[];
      expect(srv.map((s) => `${s.priority} ${s.weight} ${s.port} ${s.target}`).sort()).toEqual([
        "0 1 8081 0a000002.addr.conclave",
        "0 1 8082 20010db8000000000000000000000007.addr.conclave",
        "0 1 9090 0a000001.addr.conclave",
        "0 3 8080 0a000001.addr.conclave",
        "0 7 5432 db.example.com",
      ]);
      const glue = (packet.additionals ?? []).filter((r) => r.type !== "OPT");
      expect(glue.map((r) => `${r.name} ${r.type} ${(r as { data: string }).data}`).sort()).toEqual(
        [
          "0a000001.addr.conclave A 10.0.0.1",
          "0a000002.addr.conclave A 10.0.0.2",
          "20010db8000000000000000000000007.addr.conclave AAAA 2001:db8::7",
        ],
      );
    }
  });

  it("answers the synthetic address names themselves", async () => {
    const v4 = await ask("0A000001.addr.conclave");
    expect(data(v4.packet)).toEqual(["10.0.0.1"]);
    const v6 = await ask("20010db8000000000000000000000007.addr.conclave", { type: "AAAA" });
    expect(data(v6.packet)).toEqual(["2001:db8::7"]);
    const wrongFamily = await ask("0a000001.addr.conclave", { type: "AAAA" });
    expect(wrongFamily.packet.rcode).toBe("NOERROR");
    expect(wrongFamily.packet.answers).toEqual([]);
    expect((await ask("0a00001.addr.conclave")).packet.rcode).toBe("NXDOMAIN");
  });

  it("gives NOERROR, no answers and the SOA when the service exists but nothing is served", async () => {
    for (const [name, type] of [
      ["down.service.conclave", "A"],
      ["orders.service.conclave", "TXT"],
      ["_orders._tcp.service.conclave", "A"],
      ["service.conclave", "A"],
    ] as const) {
      const { packet } = await ask(name, { type });
      expect(packet.rcode, name).toBe("NOERROR");
      expect(packet.answers, name).toEqual([]);
      expect(
        packet.authorities?.map((r) => `${r.type} ${r.name}`),
        name,
      ).toEqual(["SOA conclave"]);
    }
  });

  it("gives NXDOMAIN for unknown services and names, REFUSED for other zones", async () => {
    for (const name of ["nope.service.conclave", "x.orders.service.conclave", "a.conclave"]) {
      const { packet } = await ask(name);
      expect(packet.rcode, name).toBe("NXDOMAIN");
      expect(packet.flag_aa).toBe(true);
      expect(packet.authorities?.[0]?.type).toBe("SOA");
    }
    for (const name of ["example.com", "conclave.example.com", "notconclave"]) {
      const { packet } = await ask(name);
      expect(packet.rcode, name).toBe("REFUSED");
      expect(packet.flag_aa).toBe(false);
      expect(packet.flag_ra).toBe(false);
      expect(packet.answers).toEqual([]);
    }
  });

  it("uses the configured domain and TTL", async () => {
    const ctx = context({ domain: "svc.example", ttlSeconds: 30 });
    const { packet } = await ask("orders.service.svc.example.", { context: ctx });
    expect(packet.answers?.map((r) => (r as { ttl: number }).ttl)).toEqual([30, 30]);
    expect((await ask("orders.service.conclave", { context: ctx })).packet.rcode).toBe("REFUSED");
  });

  it("truncates a UDP answer over 512 bytes (TC) and sends it whole over TCP", async () => {
    const udp = await ask("many.service.conclave");
    expect(udp.bytes).toBeLessThanOrEqual(512);
    expect(udp.packet.flag_tc).toBe(true);
    expect(udp.packet.answers?.length).toBeGreaterThan(0);
    expect(udp.packet.answers?.length).toBeLessThan(40);

    const edns = await ask("many.service.conclave", { edns: 4096 });
    expect(edns.bytes).toBeLessThanOrEqual(1232);
    expect(edns.packet.flag_tc).toBe(true);
    expect(edns.packet.answers?.length).toBeGreaterThan(udp.packet.answers?.length ?? 0);

    const tcp = await ask("many.service.conclave", { transport: "tcp" });
    expect(tcp.packet.flag_tc).toBe(false);
    expect(tcp.packet.answers).toHaveLength(40);
  });

  it("drops SRV additionals before answers", async () => {
    const { packet, bytes } = await ask("many.service.conclave", { type: "SRV", edns: 1232 });
    expect(bytes).toBeLessThanOrEqual(1232);
    expect(data(packet, "additionals")).toEqual([]);
    expect(packet.additionals?.map((r) => r.type)).toEqual(["OPT"]);
    const tcp = await ask("many.service.conclave", { type: "SRV", transport: "tcp" });
    expect(data(tcp.packet)).toHaveLength(40);
    expect(data(tcp.packet, "additionals")).toHaveLength(40);
  });

  it("answers SERVFAIL when the lookup fails", async () => {
    const { packet } = await ask("broken.service.conclave");
    expect(packet.rcode).toBe("SERVFAIL");
  });
});

describe("DNS requests that are not plain queries", () => {
  it("drops answers and runts, FORMERRs what does not parse, NOTIMPs other opcodes", async () => {
    const ctx = context();
    const answerPacket = query("orders.service.conclave");
    answerPacket[2] = (answerPacket[2] ?? 0) | 0x80;
    expect(await answerDnsMessage(answerPacket, "udp", ctx)).toBeUndefined();
    expect(await answerDnsMessage(Buffer.from([1, 2, 3]), "udp", ctx)).toBeUndefined();

    const cut = query("orders.service.conclave").subarray(0, 20);
    const formerr = decode((await answerDnsMessage(cut, "udp", ctx)) as Buffer);
    expect(formerr.rcode).toBe("FORMERR");
    expect(formerr.id).toBe(4242);

    const notify = query("orders.service.conclave", { flags: 4 << 11 });
    expect(decode((await answerDnsMessage(notify, "udp", ctx)) as Buffer).rcode).toBe("NOTIMP");

    const two = dnsPacket.encode({
      type: "query",
      id: 1,
      questions: [
        { name: "a.service.conclave", type: "A" },
        { name: "b.service.conclave", type: "A" },
      ],
    });
    expect(decode((await answerDnsMessage(two, "udp", ctx)) as Buffer).rcode).toBe("FORMERR");
  });

  it("answers an EDNS version it does not know with BADVERS", async () => {
    const { packet } = await ask("orders.service.conclave", { edns: 1232, ednsVersion: 1 });
    const opt = packet.additionals?.find((r) => r.type === "OPT") as dnsPacket.OptAnswer;
    expect(opt.extendedRcode).toBe(1);
    expect(packet.answers).toEqual([]);
  });

  it("survives random and mangled packets", async () => {
    const random = seededRandom(20_251_206);
    const ctx = context();
    const valid = [
      query("orders.service.conclave", { type: "SRV", edns: 1232 }),
      query("many.service.conclave"),
      query("0a000001.addr.conclave"),
    ];
    for (let i = 0; i < 1500; i++) {
      let message: Buffer;
      if (i % 3 === 0) {
        message = Buffer.from(
          Array.from({ length: Math.floor(random() * 80) }, () => random() * 256),
        );
      } else {
        message = Buffer.from(valid[i % valid.length] as Buffer);
        const flips = 1 + Math.floor(random() * 4);
        for (let f = 0; f < flips; f++) {
          const at = Math.floor(random() * message.length);
          message[at] = Math.floor(random() * 256);
        }
        if (random() < 0.3) message = message.subarray(0, Math.floor(random() * message.length));
      }
      const reply = await answerDnsMessage(message, i % 2 === 0 ? "udp" : "tcp", ctx);
      if (reply === undefined) continue;
      const decoded = decode(reply);
      expect(decoded.type).toBe("response");
      expect(decoded.id).toBe(message.readUInt16BE(0));
      if (i % 2 === 0) expect(reply.length).toBeLessThanOrEqual(1232);
    }
  });
});
