import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConclaveClient, NoSpaceError } from "../../src/client/index.js";
import { RECORD_OVERHEAD_BYTES } from "../../src/kv/index.js";
import { type ListeningMember, startListeningMember } from "../server/single-member.js";
import { runInProcess } from "./run-cli.js";

/** Room for two 100-byte values under 2-byte keys, and not a third. */
const RECORD_BYTES = 2 + 100 + RECORD_OVERHEAD_BYTES;

let member: ListeningMember;
let client: ConclaveClient;
const run = (args: string[]) => runInProcess([...args, "--endpoints", member.url]);
const value = "v".repeat(100);

beforeAll(async () => {
  member = await startListeningMember({ quotaBackendBytes: 3 * RECORD_BYTES - 1 });
  client = new ConclaveClient({ endpoints: [member.url] });
});
afterAll(async () => {
  await client.close();
  await member.stop();
});

describe("alarms from the SDK and the CLI", () => {
  it("a write past the quota is a NoSpaceError; alarm list shows it; compaction and disarm recover", async () => {
    await client.put("k1", value);
    await client.put("k2", value);
    const refused = await client.put("k3", value).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(NoSpaceError);
    expect(refused).toMatchObject({ code: "KV_NOSPACE", status: 507 });
    expect(await client.alarms()).toEqual([{ memberId: 1, alarm: "NOSPACE" }]);
    expect(await client.alarms({ alarm: "CORRUPT" })).toEqual([]);

    const listed = await run(["alarm", "list"]);
    expect(listed).toMatchObject({ code: 0, stdout: "memberID:1 alarm:NOSPACE\n" });
    const put = await run(["put", "k3", "x"]);
    expect(put.code).toBe(1);
    expect(put.stderr).toMatch(/KV_NOSPACE: database space exceeded/);

    const deleted = await client.delete("k", { prefix: true });
    const compacted = await run(["compaction", String(deleted.revision)]);
    expect(compacted).toMatchObject({
      code: 0,
      stdout: `compacted revision ${deleted.revision}\n`,
    });
    const disarmed = await run(["alarm", "disarm", "--json"]);
    expect(disarmed.code).toBe(0);
    expect(JSON.parse(disarmed.stdout)).toEqual({ alarms: [{ memberId: 1, alarm: "NOSPACE" }] });
    expect((await run(["alarm", "list"])).stdout).toBe("");
    expect((await run(["put", "k3", "x"])).code).toBe(0);
  });

  it("disarms one member's alarm by id and kind", async () => {
    const activate = await fetch(`${member.url}/v3/maintenance/alarm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ action: "ACTIVATE", memberID: "4", alarm: "CORRUPT" }),
    });
    expect(activate.status).toBe(200);
    expect(await client.disarmAlarm({ memberId: 9, alarm: "CORRUPT" })).toEqual([]);
    const one = await run(["alarm", "disarm", "--member-id", "4", "--alarm", "corrupt"]);
    expect(one).toMatchObject({ code: 0, stdout: "memberID:4 alarm:CORRUPT\n" });
    expect(await client.alarms()).toEqual([]);
    const half = await run(["alarm", "disarm", "--member-id", "4"]);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/--member-id and --alarm go together/);
  });
});
