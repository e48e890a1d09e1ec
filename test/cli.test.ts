import { execFileSync, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const cli = ["--import", "tsx", "src/cli/main.ts"];

describe("conclave CLI", () => {
  it("prints help naming the modules that exist", () => {
    const out = execFileSync(process.execPath, [...cli, "help"], { encoding: "utf8" });
    expect(out).toContain("conclave/hashring");
    // The client commands' lines come from their own modules, loaded for help.
    expect(out).toMatch(/^ {2}conclave get /m);
  });

  it("serve loads neither the client commands, the sharded tier nor the DNS view", () => {
    // Logs every module the loader resolves; `serve --help` loads serve's whole static graph.
    const hooks = `data:text/javascript,${encodeURIComponent(
      "export async function resolve(s, c, next) { const r = await next(s, c); process._rawDebug('resolved ' + r.url); return r; }",
    )}`;
    const register = `data:text/javascript,${encodeURIComponent(
      `import { register } from "node:module"; register(${JSON.stringify(hooks)});`,
    )}`;
    const res = spawnSync(process.execPath, ["--import", register, ...cli, "serve", "--help"], {
      encoding: "utf8",
    });
    expect(res.status).toBe(0);
    const resolved = res.stderr.split("\n").filter((l) => l.startsWith("resolved "));
    expect(resolved.some((l) => l.includes("/src/server/runtime/run.ts"))).toBe(true);
    const unwanted = resolved.filter((l) =>
      /\/src\/cli\/client-|\/src\/cli\/commands\/|\/src\/shard\/|\/src\/registry\/|\/serve-dns\.ts|@grpc/.test(
        l,
      ),
    );
    expect(unwanted).toEqual([]);
  });

  it("prints the package version", () => {
    const out = execFileSync(process.execPath, [...cli, "version"], { encoding: "utf8" });
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("rejects an unknown command with exit code 2 and names it", () => {
    const res = spawnSync(process.execPath, [...cli, "frobnicate"], { encoding: "utf8" });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('unknown command "frobnicate"');
  });
});
