/**
 * The npm package as users get it: packed from a hermetic build, installed
 * offline into a clean project with no lock backend driver, type-checked
 * under strict settings without skipLibCheck, imported subpath by subpath;
 * then the drivers are installed and their subpaths checked the same way.
 * Install size and each subpath's import time and memory are printed as one
 * JSON line (figures, not assertions: the machine is shared).
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InstallOutcome, OfflineProject } from "./offline-project.js";
import {
  DRIVER_FREE_SUBPATHS,
  DRIVER_SUBPATHS,
  type ImportProbe,
  probeImport,
  probeRequire,
  typeCheck,
} from "./probes.js";
import { run } from "./run.js";
import { buildTarball, type PackedPackage } from "./tarball.js";

const DRIVER_PACKAGES = [...new Set(Object.values(DRIVER_SUBPATHS).flatMap((d) => [...d.install]))];
const DRIVER_SUBPATH_NAMES = Object.keys(DRIVER_SUBPATHS) as (keyof typeof DRIVER_SUBPATHS)[];
/** Installed beside conclave in both phases: what a TypeScript user has anyway. */
const USER_TOOLING = ["@types/node"];

describe("the packed npm package", { timeout: 300_000 }, () => {
  let workDir: string;
  let packed: PackedPackage;
  let project: OfflineProject;
  let bare: InstallOutcome;
  const figures: Record<string, unknown> = {};

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), "conclave-pack-"));
    packed = await buildTarball(workDir);
    project = new OfflineProject(join(workDir, "project"), packed);
    bare = await project.install(USER_TOOLING);
    figures["tarball"] = {
      packedBytes: packed.packedBytes,
      unpackedBytes: packed.unpackedBytes,
      files: packed.files.length,
    };
    figures["withoutDrivers"] = {
      packages: bare.packageCount,
      installedBytes: bare.installedBytes,
    };
  }, 300_000);

  afterAll(async () => {
    console.log(JSON.stringify({ bench: "package", ...figures }));
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
  });

  it("ships the build, proto, ui, bin and the CommonJS notice; nothing test-only and no source maps", () => {
    const allowed = /^(dist\/|proto\/|ui\/|bin\/|cjs\/|README\.md$|LICENSE$|package\.json$)/;
    expect(packed.files.filter((f) => !allowed.test(f))).toEqual([]);
    expect(packed.files.filter((f) => /^dist\/(sim|devnode)\//.test(f))).toEqual([]);
    expect(packed.files.filter((f) => f.endsWith(".map"))).toEqual([]);
    expect(packed.files.filter((f) => /\.test\.[jt]s$|^dist\/test\//.test(f))).toEqual([]);
    expect(packed.files).toContain("dist/cli/main.js");
    expect(packed.files).toContain("bin/conclave.js");
    expect(packed.files).toContain("cjs/esm-only.cjs");
  });

  it("installs offline with no backend driver and no engine warning", () => {
    expect(bare.code, bare.stderr).toBe(0);
    expect(`${bare.stdout}${bare.stderr}`).not.toContain("EBADENGINE");
    for (const driver of DRIVER_PACKAGES) {
      expect(existsSync(join(project.dir, "node_modules", driver)), driver).toBe(false);
    }
  });

  it("type-checks every driver-free subpath under strict tsc without skipLibCheck", async () => {
    const checked = await typeCheck(project, "driver-free", DRIVER_FREE_SUBPATHS);
    expect(checked.stdout + checked.stderr).toBe("");
    expect(checked.code).toBe(0);
  });

  it("imports every driver-free subpath", async () => {
    const probes: ImportProbe[] = [];
    for (const subpath of DRIVER_FREE_SUBPATHS) probes.push(await probeImport(project, subpath));
    expect(probes.filter((p) => !p.ok)).toEqual([]);
    figures["importsWithoutDrivers"] = probes;
  });

  it("refuses each driver subpath without its driver, naming the package to install", async () => {
    for (const subpath of DRIVER_SUBPATH_NAMES) {
      const { driver } = DRIVER_SUBPATHS[subpath];
      const probe = await probeImport(project, subpath);
      expect(probe).toEqual({
        subpath,
        ok: false,
        name: "MissingPeerDependencyError",
        code: "MISSING_PEER_DEPENDENCY",
        message: `${subpath} needs the optional peer dependency ${driver}: npm install ${driver}`,
      });
    }
  });

  it("says it is an ES module package when required from CommonJS", async () => {
    for (const subpath of ["conclave/hashring", "conclave/lock", "conclave/server"]) {
      const required = await probeRequire(project, subpath);
      expect(required.code).not.toBe(0);
      expect(required.stderr).toContain("conclave is an ES module package; use import");
    }
  });

  it("installs the conclave command", async () => {
    const version = await run(join(project.dir, "node_modules", ".bin", "conclave"), ["version"], {
      cwd: project.dir,
    });
    expect(version).toMatchObject({ code: 0, stdout: "0.1.0\n" });
  });

  describe("with the drivers installed", () => {
    let withDrivers: InstallOutcome;

    beforeAll(async () => {
      withDrivers = await project.install([...USER_TOOLING, ...DRIVER_PACKAGES]);
      figures["withDrivers"] = {
        packages: withDrivers.packageCount,
        installedBytes: withDrivers.installedBytes,
      };
    }, 300_000);

    it("installs offline with no engine warning", () => {
      expect(withDrivers.code, withDrivers.stderr).toBe(0);
      expect(`${withDrivers.stdout}${withDrivers.stderr}`).not.toContain("EBADENGINE");
    });

    it("type-checks every driver subpath under strict tsc without skipLibCheck", async () => {
      const checked = await typeCheck(project, "drivers", DRIVER_SUBPATH_NAMES);
      expect(checked.stdout + checked.stderr).toBe("");
      expect(checked.code).toBe(0);
    });

    it("imports every driver subpath", async () => {
      const probes: ImportProbe[] = [];
      for (const subpath of DRIVER_SUBPATH_NAMES) probes.push(await probeImport(project, subpath));
      expect(probes.filter((p) => !p.ok)).toEqual([]);
      figures["importsWithDrivers"] = probes;
    });
  });
});
