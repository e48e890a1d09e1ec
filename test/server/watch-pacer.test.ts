import { describe, expect, it } from "vitest";
import { WatchWritePacer } from "../../src/server/watch-pacer.js";

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("WatchWritePacer", () => {
  it("writes at most its bytes per turn and leaves the rest to later turns, each stream once", async () => {
    const pacer = new WatchWritePacer(1000);
    const pumped: string[] = [];
    const stream = (name: string) => ({
      pump() {
        pumped.push(name);
        return 600;
      },
    });
    const [a, b, c] = [stream("a"), stream("b"), stream("c")];
    pacer.schedule(a);
    pacer.schedule(b);
    pacer.schedule(a);
    pacer.schedule(c);
    expect(pumped).toEqual([]);
    await nextTurn();
    expect(pumped).toEqual(["a", "b"]);
    await nextTurn();
    expect(pumped).toEqual(["a", "b", "c"]);
    await nextTurn();
    expect(pumped).toEqual(["a", "b", "c"]);
  });

  it("skips a stream that was forgotten before its turn", async () => {
    const pacer = new WatchWritePacer(1000);
    const pumped: string[] = [];
    const a = {
      pump() {
        pumped.push("a");
        return 1;
      },
    };
    pacer.schedule(a);
    pacer.forget(a);
    await nextTurn();
    expect(pumped).toEqual([]);
  });
});
