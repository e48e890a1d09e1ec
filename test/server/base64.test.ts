import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBase64, encodeBase64 } from "../../src/server/base64.js";

/** The rule spelled out the slow way: strict alphabet, at most two "=", canonical trailing bits. */
function reference(text: string): Uint8Array | "invalid" {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return "invalid";
  const unpadded = text.replace(/=+$/, "");
  if (unpadded.length % 4 === 1) return "invalid";
  const bytes = Buffer.from(text, "base64");
  if (bytes.toString("base64").replace(/=+$/, "") !== unpadded) return "invalid";
  return new Uint8Array(bytes);
}

function outcome(text: string): Uint8Array | "invalid" {
  try {
    return new Uint8Array(decodeBase64(text, "value"));
  } catch {
    return "invalid";
  }
}

describe("decodeBase64", () => {
  it("round-trips any bytes, padded or not", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = encodeBase64(bytes);
        expect(outcome(text)).toEqual(bytes);
        expect(outcome(text.replace(/=+$/, ""))).toEqual(bytes);
      }),
      { seed: 1201, numRuns: 500 },
    );
  });

  it("accepts and refuses exactly what the strict rule does", () => {
    const alphabet = fc.constantFrom(..."ABCDQRSTYZabcdwxyz0189+/=-_ \n!".split(""));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 24 }), (text) => {
        expect(outcome(text)).toEqual(reference(text));
      }),
      { seed: 1202, numRuns: 5000 },
    );
  });

  it("names the fault: bad characters, or non-canonical trailing bits", () => {
    expect(() => decodeBase64("Q!Q=", "key")).toThrow(/^key is not valid base64$/);
    expect(() => decodeBase64("QQ===", "key")).toThrow(/^key is not valid base64$/);
    expect(() => decodeBase64("QR==", "key")).toThrow(/non-canonical trailing bits/);
  });
});
