import { describe, expect, it } from "vitest";
import { LogThrottle } from "../src/log-throttle.js";

function sink() {
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  return {
    lines,
    warn: (fields: Record<string, unknown>, message: string) => lines.push({ fields, message }),
  };
}

describe("LogThrottle", () => {
  it("logs a key once per interval and reports what it suppressed", () => {
    let now = 0;
    const out = sink();
    const log = new LogThrottle(out, { intervalMs: 1000, now: () => now });
    expect(log.warn("refused", { peer: 1 }, "refused")).toBe(true);
    for (let i = 0; i < 5; i++) expect(log.warn("refused", { peer: 1 }, "refused")).toBe(false);
    expect(log.warn("other", {}, "other")).toBe(true);
    now = 1000;
    expect(log.warn("refused", { peer: 2 }, "refused")).toBe(true);
    expect(out.lines).toEqual([
      { fields: { peer: 1 }, message: "refused" },
      { fields: {}, message: "other" },
      { fields: { peer: 2, suppressed: 5 }, message: "refused" },
    ]);
  });

  it("forgets the oldest key past maxKeys, so many keys cannot grow memory", () => {
    let now = 0;
    const out = sink();
    const log = new LogThrottle(out, { intervalMs: 1000, maxKeys: 2, now: () => now });
    log.warn("a", {}, "a");
    log.warn("b", {}, "b");
    log.warn("c", {}, "c");
    now = 1;
    expect(log.warn("a", {}, "a")).toBe(true);
    expect(log.warn("c", {}, "c")).toBe(false);
  });
});
