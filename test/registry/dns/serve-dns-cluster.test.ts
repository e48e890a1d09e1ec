/**
 * Every member of a three-member cluster answers the registry's DNS view
 * from its own copy of the key space: followers too, with no Raft round trip.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConclaveClient } from "../../../src/client/index.js";
import { encodeInstance, validateInstance } from "../../../src/registry/instance.js";
import { instanceKey, validateLayout } from "../../../src/registry/keys.js";
import {
  eventually,
  initialCluster,
  type MemberPlan,
  planMembers,
  ServeProcess,
  tempRoot,
} from "../../server/process/serve-process.js";
import { freePort } from "../../support/free-port.js";
import { dig, recordData, requireDig } from "./dig.js";

const root = tempRoot();
const layout = validateLayout({ root: "/apps/registry/" });
let plans: MemberPlan[] = [];
const dnsPorts: number[] = [];
const procs: ServeProcess[] = [];
let client: ConclaveClient;

beforeAll(async () => {
  requireDig();
  plans = await planMembers(root.path, ["n1", "n2", "n3"]);
  for (const _ of plans) dnsPorts.push(await freePort());
  const cluster = initialCluster(plans);
  procs.push(
    ...(await Promise.all(
      plans.map((m, i) =>
        ServeProcess.start(m, [
          "--initial-cluster",
          cluster,
          "--listen-dns",
          `127.0.0.1:${dnsPorts[i]}`,
          "--dns-domain",
          "svc.example.",
          "--dns-ttl",
          "5",
          "--dns-registry-root",
          layout.root,
        ]),
      ),
    )),
  );
  client = new ConclaveClient({ endpoints: plans.map((m) => m.clientUrl), timeoutMs: 10_000 });
  await eventually(async () => (await client.put("ready", "1")) && true, "a leader");
}, 120_000);

afterAll(async () => {
  await client?.close();
  await Promise.all(procs.map((p) => p.terminate()));
  root.remove();
});

describe("the DNS view on every member", () => {
  it("answers a registration from each member, and withholds it once critical", async () => {
    const put = (status: "passing" | "critical") => {
      const instance = validateInstance({
        service: "search",
        id: "s1",
        address: "10.9.0.1",
        port: 9200,
        status,
      });
      return client.put(instanceKey(layout, "search", "s1"), encodeInstance(instance));
    };
    await put("passing");
    for (const port of dnsPorts) {
      const answer = await eventually(async () => {
        const a = await dig(port, "search.service.svc.example.", "A");
        return a.answers.length > 0 ? a : undefined;
      }, `member on DNS port ${port} to answer`);
      expect(recordData(answer.answers)).toEqual(["10.9.0.1"]);
      expect(answer.answers[0]).toMatch(/^search\.service\.svc\.example\. 5 IN A /);
    }
    await put("critical");
    for (const port of dnsPorts) {
      const answer = await eventually(async () => {
        const a = await dig(port, "search.service.svc.example.", "A");
        return a.answers.length === 0 ? a : undefined;
      }, `member on DNS port ${port} to withhold it`);
      expect(answer.status).toBe("NOERROR");
      expect(answer.authority[0]).toMatch(/^svc\.example\. 5 IN SOA /);
    }
    // The default domain is not this cluster's: another zone.
    expect((await dig(dnsPorts[0] as number, "search.service.conclave.", "A")).status).toBe(
      "REFUSED",
    );
  });
});
