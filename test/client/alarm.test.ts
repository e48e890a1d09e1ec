import { describe, expect, it } from "vitest";
import { BadResponseError, NoSpaceError } from "../../src/client/index.js";
import { fakeCluster, json } from "./fake-server.js";

const { serve, clientOf } = fakeCluster(12);
const header = { revision: "5" };

describe("ConclaveClient alarms", () => {
  it("disarms every listed alarm, one DEACTIVATE each, as etcdctl alarm disarm", async () => {
    const raised = [
      { memberID: "1", alarm: "NOSPACE" },
      { memberID: "3", alarm: "NOSPACE" },
    ];
    const s = await serve(
      json(200, { header, alarms: raised }),
      json(200, { header, alarms: [raised[0]] }),
      json(200, { header, alarms: [raised[1]] }),
    );
    const cleared = await clientOf([s.url]).disarmAlarm();
    expect(cleared).toEqual([
      { memberId: 1, alarm: "NOSPACE" },
      { memberId: 3, alarm: "NOSPACE" },
    ]);
    expect(s.seen.map((r) => [r.url, r.body])).toEqual([
      ["/v3/maintenance/alarm", { action: "GET" }],
      ["/v3/maintenance/alarm", { action: "DEACTIVATE", memberID: 1, alarm: "NOSPACE" }],
      ["/v3/maintenance/alarm", { action: "DEACTIVATE", memberID: 3, alarm: "NOSPACE" }],
    ]);
  });

  it("reads an answer without alarms as none, and refuses an unknown kind", async () => {
    const s = await serve(
      json(200, { header }),
      json(200, { header, alarms: [{ memberID: "1", alarm: "FULL" }] }),
    );
    const client = clientOf([s.url]);
    expect(await client.alarms()).toEqual([]);
    await expect(client.alarms()).rejects.toBeInstanceOf(BadResponseError);
  });

  it("turns the server's KV_NOSPACE into a NoSpaceError without retrying", async () => {
    const s = await serve(json(507, { code: "KV_NOSPACE", message: "database space exceeded" }));
    const err = await clientOf([s.url])
      .put("k", "v")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoSpaceError);
    expect(s.seen).toHaveLength(1);
  });
});
