/**
 * `conclave serve --listen-dns` asked by the real `dig` (Debian's dnsutils,
 * installed by .ci/services.sh): registrations written with the SDK in the
 * registry's record format, answered from the member's own key space.
 */
import dgram from "node:dgram";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConclaveClient } from "../../../src/client/index.js";
import {
  encodeInstance,
  type InstanceInput,
  validateInstance,
} from "../../../src/registry/instance.js";
import { DEFAULT_LAYOUT, instanceKey } from "../../../src/registry/keys.js";
import {
  eventually,
  type MemberPlan,
  planMembers,
  ServeProcess,
  tempRoot,
} from "../../server/process/serve-process.js";
import { freePort } from "../../support/free-port.js";
import { dig as digAt, recordData, requireDig } from "./dig.js";

let dnsPort = 0;
const dig = (name: string, type: string, ...options: string[]) =>
  digAt(dnsPort, name, type, ...options);
const data = recordData;

const root = tempRoot();
let member: ServeProcess;
let client: ConclaveClient;

async function register(input: InstanceInput, lease?: number): Promise<void> {
  const instance = validateInstance(input);
  await client.put(
    instanceKey(DEFAULT_LAYOUT, instance.service, instance.id),
    encodeInstance(instance),
    lease === undefined ? {} : { lease },
  );
}

beforeAll(async () => {
  requireDig();
  const [plan] = (await planMembers(root.path, ["n1"])) as [MemberPlan];
  dnsPort = await freePort();
  member = await ServeProcess.start(plan, [
    "--listen-dns",
    `127.0.0.1:${dnsPort}`,
    "--dns-domain",
    "conclave.",
  ]);
  client = new ConclaveClient({ endpoints: [plan.clientUrl], timeoutMs: 10_000 });
  await eventually(async () => (await client.put("ready", "1")) && true, "a leader");
  await register({ service: "orders", id: "o1", address: "10.0.0.1", port: 8080, weight: 5 });
  await register({ service: "orders", id: "o2", address: "10.0.0.2", port: 8081 });
  await register({ service: "orders", id: "o3", address: "2001:db8::3", port: 8082 });
  await register({
    service: "orders",
    id: "o4",
    address: "10.0.0.4",
    port: 8083,
    status: "critical",
  });
  await register({ service: "orders", id: "o5", address: "orders5.example.com", port: 8084 });
  await register({
    service: "billing",
    id: "b1",
    address: "10.1.0.1",
    port: 9000,
    status: "critical",
  });
  for (let i = 1; i <= 30; i++) {
    await register({ service: "wide", id: `w${i}`, address: `10.2.0.${i}`, port: 7000 + i });
  }
});

afterAll(async () => {
  await client?.close();
  await member?.terminate();
  root.remove();
});

describe("conclave serve --listen-dns", () => {
  it("answers A and AAAA with the served instances only", async () => {
    const a = await dig("orders.service.conclave.", "A");
    expect(a.status).toBe("NOERROR");
    expect(a.flags).toContain("aa");
    expect(a.flags).not.toContain("ra");
    expect(data(a.answers)).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(a.answers[0]).toMatch(/^orders\.service\.conclave\. 0 IN A /);
    const aaaa = await dig("ORDERS.Service.Conclave.", "AAAA");
    expect(data(aaaa.answers)).toEqual(["2001:db8::3"]);
  });

  it("answers SRV with weights, ports and targets, and the targets' addresses", async () => {
    for (const name of ["orders.service.conclave.", "_orders._tcp.service.conclave."]) {
      const srv = await dig(name, "SRV");
      expect(srv.status).toBe("NOERROR");
      expect(data(srv.answers)).toEqual([
        "0 1 8081 0a000002.addr.conclave.",
        "0 1 8082 20010db8000000000000000000000003.addr.conclave.",
        "0 1 8084 orders5.example.com.",
        "0 5 8080 0a000001.addr.conclave.",
      ]);
      expect(srv.additional.filter((l) => !l.startsWith(";")).sort()).toEqual([
        "0a000001.addr.conclave. 0 IN A 10.0.0.1",
        "0a000002.addr.conclave. 0 IN A 10.0.0.2",
        "20010db8000000000000000000000003.addr.conclave. 0 IN AAAA 2001:db8::3",
      ]);
    }
    const target = await dig("0a000002.addr.conclave.", "A");
    expect(data(target.answers)).toEqual(["10.0.0.2"]);
  });

  it("answers over TCP too", async () => {
    const tcp = await dig("orders.service.conclave.", "SRV", "+tcp");
    expect(tcp.server).toBe("TCP");
    expect(tcp.answers).toHaveLength(4);
  });

  it("answers NOERROR with the SOA and no address for a service with nothing served", async () => {
    const billing = await dig("billing.service.conclave.", "A");
    expect(billing.status).toBe("NOERROR");
    expect(billing.answers).toEqual([]);
    expect(billing.authority[0]).toMatch(
      /^conclave\. 0 IN SOA ns\.conclave\. hostmaster\.conclave\./,
    );
  });

  it("answers NXDOMAIN for unknown names and REFUSED for other zones", async () => {
    expect((await dig("nothing.service.conclave.", "A")).status).toBe("NXDOMAIN");
    expect((await dig("orders.node.conclave.", "A")).status).toBe("NXDOMAIN");
    const other = await dig("example.com.", "A");
    expect(other.status).toBe("REFUSED");
    expect(other.flags).not.toContain("aa");
  });

  it("sets TC on a UDP answer over 512 bytes, and dig gets it whole over TCP", async () => {
    const truncated = await dig("wide.service.conclave.", "A", "+noedns", "+ignore");
    expect(truncated.flags).toContain("tc");
    expect(truncated.answers.length).toBeLessThan(30);
    const retried = await dig("wide.service.conclave.", "A", "+noedns");
    expect(retried.server).toBe("TCP");
    expect(retried.flags).not.toContain("tc");
    expect(retried.answers).toHaveLength(30);
  });

  it("follows the key space: a new instance, a status change, an expired lease", async () => {
    const lease = await client.leaseGrant(60_000);
    await register({ service: "carts", id: "c1", address: "10.3.0.1", port: 80 }, lease.id);
    await eventually(
      async () =>
        data((await dig("carts.service.conclave.", "A")).answers)[0] === "10.3.0.1"
          ? true
          : undefined,
      "the new instance in DNS",
    );
    await register(
      { service: "carts", id: "c1", address: "10.3.0.1", port: 80, status: "critical" },
      lease.id,
    );
    const critical = await dig("carts.service.conclave.", "A");
    expect(critical.status).toBe("NOERROR");
    expect(critical.answers).toEqual([]);
    await client.leaseRevoke(lease.id);
    expect((await dig("carts.service.conclave.", "A")).status).toBe("NXDOMAIN");
  });

  it("keeps answering after garbage on UDP and TCP", async () => {
    const udp = dgram.createSocket("udp4");
    await new Promise<void>((resolve) =>
      udp.send(Buffer.from("not a dns message at all"), dnsPort, "127.0.0.1", () => resolve()),
    );
    udp.close();
    const closed = await new Promise<boolean>((resolve, reject) => {
      const socket = net.connect(dnsPort, "127.0.0.1", () => {
        // A frame too short to be a DNS message: the connection is cut.
        socket.write(Buffer.from([0, 3, 1, 2, 3]));
      });
      socket.on("error", reject);
      socket.on("close", () => resolve(true));
      socket.resume();
    });
    expect(closed).toBe(true);
    expect((await dig("orders.service.conclave.", "A")).status).toBe("NOERROR");
    expect(member.child.exitCode).toBeNull();
  });

  it("logs where it listens", () => {
    expect(member.output).toContain("registry DNS view listening");
    expect(member.output).not.toMatch(/"insecure":true[^\n]*DNS/);
  });
});
