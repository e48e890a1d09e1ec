/**
 * `npm run bench -- package`: what a user installs and loads. Packs a
 * hermetic build (the checkout's dist/ is left alone), installs the tarball
 * offline into a clean project without and then with the lock drivers, and
 * imports each subpath in a fresh process: install size, package count, and
 * per subpath the import time and the process's memory afterwards. Prints a
 * table, then one JSON line with everything.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OfflineProject } from "../test/package/offline-project.js";
import {
  DRIVER_FREE_SUBPATHS,
  DRIVER_SUBPATHS,
  type ImportProbe,
  probeImport,
} from "../test/package/probes.js";
import { buildTarball } from "../test/package/tarball.js";

const MB = 1024 * 1024;
const workDir = await mkdtemp(join(tmpdir(), "conclave-bench-package-"));
try {
  const packed = await buildTarball(workDir);
  const project = new OfflineProject(join(workDir, "project"), packed);
  const bare = await project.install([]);
  if (bare.code !== 0) throw new Error(`install failed:\n${bare.stderr}`);
  const withoutDrivers: ImportProbe[] = [];
  for (const subpath of DRIVER_FREE_SUBPATHS)
    withoutDrivers.push(await probeImport(project, subpath));
  const drivers = [...new Set(Object.values(DRIVER_SUBPATHS).flatMap((d) => [...d.install]))];
  const full = await project.install(drivers);
  if (full.code !== 0) throw new Error(`install with drivers failed:\n${full.stderr}`);
  const withDrivers: ImportProbe[] = [];
  for (const subpath of Object.keys(DRIVER_SUBPATHS))
    withDrivers.push(await probeImport(project, subpath));

  console.log(
    `tarball ${(packed.packedBytes / MB).toFixed(2)} MB packed, ${(packed.unpackedBytes / MB).toFixed(2)} MB unpacked, ${packed.files.length} files`,
  );
  console.log(
    `installed without drivers: ${bare.packageCount} packages, ${(bare.installedBytes / MB).toFixed(1)} MB`,
  );
  console.log(
    `installed with drivers:    ${full.packageCount} packages, ${(full.installedBytes / MB).toFixed(1)} MB`,
  );
  console.log(
    `\n${"subpath".padEnd(26)}${"import ms".padStart(10)}${"rss MB".padStart(9)}${"heap MB".padStart(9)}`,
  );
  for (const probe of [...withoutDrivers, ...withDrivers]) {
    if (!probe.ok) {
      console.log(`${probe.subpath.padEnd(26)}  failed: ${probe.message}`);
      continue;
    }
    console.log(
      `${probe.subpath.padEnd(26)}${String(probe.importMs).padStart(10)}${(probe.rssBytes / MB).toFixed(1).padStart(9)}${(probe.heapUsedBytes / MB).toFixed(1).padStart(9)}`,
    );
  }
  console.log(
    JSON.stringify({
      bench: "package",
      tarball: {
        packedBytes: packed.packedBytes,
        unpackedBytes: packed.unpackedBytes,
        files: packed.files.length,
      },
      withoutDrivers: { packages: bare.packageCount, installedBytes: bare.installedBytes },
      withDrivers: { packages: full.packageCount, installedBytes: full.installedBytes },
      imports: [...withoutDrivers, ...withDrivers],
    }),
  );
} finally {
  await rm(workDir, { recursive: true, force: true });
}
