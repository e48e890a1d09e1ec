/**
 * A member data dir on a small tmpfs of its own, so the nemesis can fill the
 * file system under a running member and free it again. Mounting needs root
 * (or CAP_SYS_ADMIN); where `mount` fails, `mountTmpfs` says why and the
 * fault is skipped with a printed note.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CHUNK = Buffer.alloc(1024 * 1024, 0x5a);

export class TmpfsDataDir {
  readonly mountPoint: string;
  readonly sizeBytes: number;
  #mounted = true;

  private constructor(mountPoint: string, sizeBytes: number) {
    this.mountPoint = mountPoint;
    this.sizeBytes = sizeBytes;
  }

  /** Mounts a tmpfs of `sizeBytes`; a string saying why when it cannot. */
  static mount(sizeBytes: number): TmpfsDataDir | string {
    const mountPoint = mkdtempSync(join(tmpdir(), "conclave-nemesis-tmpfs-"));
    const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes}`, "tmpfs", mountPoint], {
      encoding: "utf8",
    });
    if (r.error !== undefined || r.status !== 0) {
      rmSync(mountPoint, { recursive: true, force: true });
      return `mount -t tmpfs failed: ${(r.error?.message ?? r.stderr.trim()) || `exit ${r.status}`}`;
    }
    return new TmpfsDataDir(mountPoint, sizeBytes);
  }

  get dataDir(): string {
    return join(this.mountPoint, "data");
  }

  get #filler(): string {
    return join(this.mountPoint, "filler");
  }

  /** Writes a file until the file system is full (bounded by its size); returns the bytes written. */
  fill(): number {
    const fd = openSync(this.#filler, "a");
    let written = 0;
    try {
      const maxChunks = Math.ceil(this.sizeBytes / CHUNK.length) + 1;
      for (let i = 0; i < maxChunks; i++) written += writeSync(fd, CHUNK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
      // The last, partial page's worth: take what is left byte by byte in small steps.
      for (let i = 0; i < 4096; i++) {
        try {
          written += writeSync(fd, CHUNK, 0, 1024);
        } catch {
          break;
        }
      }
    } finally {
      closeSync(fd);
    }
    return written;
  }

  free(): void {
    rmSync(this.#filler, { force: true });
  }

  /** Unmounts (the member using it must have exited) and removes the mount point. */
  unmount(): void {
    if (!this.#mounted) return;
    const r = spawnSync("umount", [this.mountPoint], { encoding: "utf8" });
    if (r.status !== 0) {
      // Lazily, so a straggler holding a file cannot leave the mount behind.
      spawnSync("umount", ["-l", this.mountPoint]);
    }
    this.#mounted = false;
    rmSync(this.mountPoint, { recursive: true, force: true });
  }
}
