/** A command whose endpoints all fail says which it tried and why. */
import { describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.js";
import { runCli } from "./run-cli.js";

describe("conclave with no endpoint answering", () => {
  it("names each endpoint tried with its failure, exit code 1", async () => {
    const endpoints = [
      `http://127.0.0.1:${await freePort()}`,
      `http://127.0.0.1:${await freePort()}`,
    ];
    const res = await runCli(["get", "k", "--endpoints", endpoints.join(","), "--timeout", "1500"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /^conclave: UNAVAILABLE: no endpoint answered before the call ended; tried /,
    );
    for (const endpoint of endpoints) {
      expect(res.stderr).toMatch(new RegExp(`${endpoint} \\(did not answer: [^)]*ECONNREFUSED`));
    }
    expect(res.stderr.length).toBeLessThan(1200);
  });
});
