import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { read } from "./support.js";

type Unit = Map<string, Map<string, string[]>>;

/** Sections of key=value lines; a key may repeat. Anything else is an error. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  text.split("\n").forEach((raw, n) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header !== null) {
      section = new Map();
      unit.set(header[1]!, section);
      return;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (kv === null || section === undefined) throw new Error(`line ${n + 1}: ${raw}`);
    section.set(kv[1]!, [...(section.get(kv[1]!) ?? []), kv[2]!]);
  });
  return unit;
}

const HARDENING: Record<string, string> = {
  NoNewPrivileges: "yes",
  ProtectSystem: "strict",
  ProtectHome: "yes",
  PrivateTmp: "yes",
  PrivateDevices: "yes",
  ProtectKernelTunables: "yes",
  ProtectControlGroups: "yes",
  RestrictSUIDSGID: "yes",
  CapabilityBoundingSet: "",
  Restart: "on-failure",
  User: "conclave",
};

function problems(text: string): string[] {
  const out: string[] = [];
  const service = parseUnit(text).get("Service");
  if (service === undefined) return ["no [Service] section"];
  const one = (k: string) => service.get(k)?.[0];
  for (const [k, v] of Object.entries(HARDENING)) {
    if (one(k) !== v) out.push(`${k}=${one(k)}, want ${v}`);
  }
  if (one("User") === "root") out.push("runs as root");
  if (!/^\d+$/.test(one("LimitNOFILE") ?? "") || Number(one("LimitNOFILE")) < 4096) {
    out.push("LimitNOFILE under 4096 (serve warns below that)");
  }
  if (one("MemoryDenyWriteExecute") === "yes") out.push("MemoryDenyWriteExecute breaks V8's JIT");
  const data = "/var/lib/conclave";
  if (!(service.get("ReadWritePaths") ?? []).some((p) => p.split(/\s+/).includes(data))) {
    out.push(`ReadWritePaths lacks ${data}`);
  }
  if (!/\bconclave serve$/.test(one("ExecStart") ?? ""))
    out.push("ExecStart is not conclave serve");
  if (!(one("EnvironmentFile") ?? "").startsWith("/etc/conclave/")) out.push("no EnvironmentFile");
  return out;
}

const unitText = read("deploy/systemd/conclave.service");

describe("deploy/systemd/conclave.service", () => {
  it("parses and keeps the hardening, limits and restart policy", () => {
    expect(problems(unitText)).toEqual([]);
  });

  it("each planted mistake is reported", () => {
    for (const [from, to] of [
      ["ProtectSystem=strict", "ProtectSystem=full"],
      ["LimitNOFILE=65536", "LimitNOFILE=1024"],
      ["ReadWritePaths=/var/lib/conclave", "ReadWritePaths=/srv"],
      ["User=conclave", "User=root"],
      ["Restart=on-failure", "Restart=no"],
    ] as const) {
      expect(unitText.includes(from), from).toBe(true);
      expect(problems(unitText.replace(from, to)).length, from).toBeGreaterThan(0);
    }
    expect(() => parseUnit(`${unitText}\nnot a key\n`)).toThrow(/not a key/);
  });

  // systemd-analyze verify checks keys, values and that ExecStart is
  // executable; `conclave` is not installed here, so a stub stands in for it.
  const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
  const hasAnalyze = analyze.status === 0;

  it(`systemd-analyze verify accepts it (${hasAnalyze ? "run" : "systemd-analyze not installed: content checks only"})`, () => {
    if (!hasAnalyze) return;
    const verify = (text: string) => {
      const dir = mkdtempSync(join(tmpdir(), "conclave-unit-"));
      writeFileSync(join(dir, "conclave"), "#!/bin/sh\n");
      chmodSync(join(dir, "conclave"), 0o755);
      const path = join(dir, "conclave.service");
      writeFileSync(path, text.replace("/usr/local/bin/conclave", join(dir, "conclave")));
      return spawnSync("systemd-analyze", ["verify", path], { encoding: "utf8" });
    };
    const good = verify(unitText);
    expect(good.stderr.trim()).toBe("");
    expect(good.status).toBe(0);
    // A misspelt key and a bad value are warnings on stderr: seen.
    const bad = verify(
      unitText
        .replace("ProtectHome=yes", "ProtectHom=yes")
        .replace("Restart=on-failure", "Restart=sometimes"),
    );
    expect(bad.stderr).toMatch(/Unknown key 'ProtectHom'/);
    expect(bad.stderr).toMatch(/restart specifier/);
  });
});
