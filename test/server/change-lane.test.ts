import { describe, expect, it } from "vitest";
import { ChangeLane, MembershipChangeBusyError } from "../../src/server/change-lane.js";

function deferred() {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("membership change lane", () => {
  it("starts each change only after the previous one settled, failed ones included", async () => {
    const lane = new ChangeLane(8);
    const log: string[] = [];
    const first = deferred();
    const second = deferred();
    const a = lane.run(async () => {
      log.push("a start");
      await first.promise;
      log.push("a end");
    });
    const b = lane.run(async () => {
      log.push("b start");
      await second.promise;
    });
    const c = lane.run(async () => {
      log.push("c start");
      return 3;
    });
    await Promise.resolve();
    expect(log).toEqual(["a start"]);
    first.resolve();
    await a;
    second.reject(new Error("b failed"));
    await expect(b).rejects.toThrow("b failed");
    expect(await c).toBe(3);
    expect(log).toEqual(["a start", "a end", "b start", "c start"]);
  });

  it("refuses a change beyond the bound with MEMBERSHIP_CHANGE_BUSY, and frees the slot once one settles", async () => {
    const lane = new ChangeLane(2);
    const gate = deferred();
    const held = [lane.run(() => gate.promise), lane.run(async () => "second")];
    const refused = lane.run(async () => "third");
    await expect(refused).rejects.toBeInstanceOf(MembershipChangeBusyError);
    await expect(refused).rejects.toMatchObject({
      code: "MEMBERSHIP_CHANGE_BUSY",
      statusCode: 429,
    });
    gate.resolve();
    await Promise.all(held);
    expect(await lane.run(async () => "later")).toBe("later");
  });
});
