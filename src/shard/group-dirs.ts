/**
 * Where a sharded node keeps each group's data: `<groups>/<g>/` with its WAL
 * (`wal/`), key space (`kv/`) and an incarnation id. A replica removed,
 * deleted and created again gets a new incarnation, so the shared journal's
 * records of the old one (journal.ts) are never written into the new one's
 * log: their stream is `<group>/<incarnation>`.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { isNotFound, NodeStorageFs, type StorageFs } from "../raft/storage/index.js";
import type { GroupId } from "./types.js";

const INCARNATION = "incarnation";

export class GroupDirs {
  constructor(
    readonly root: string,
    private readonly fs: StorageFs = new NodeStorageFs(),
  ) {}

  dirOf(group: GroupId): string {
    return join(this.root, String(group));
  }

  walDir(group: GroupId): string {
    return join(this.dirOf(group), "wal");
  }

  kvDir(group: GroupId): string {
    return join(this.dirOf(group), "kv");
  }

  /** Groups with a directory here (their data, from an earlier run). */
  async existing(): Promise<GroupId[]> {
    return (await this.fs.readdir(this.root)).filter((d) => /^[0-9]+$/.test(d)).map(Number);
  }

  /** The journal stream of a group's current incarnation. */
  static stream(group: GroupId, incarnation: string): string {
    return `${group}/${incarnation}`;
  }

  /** The group's incarnation id; a new group's directory and id are created, durably. */
  async ensure(group: GroupId): Promise<string> {
    const dir = this.dirOf(group);
    const existing = await this.incarnation(group);
    if (existing !== undefined) return existing;
    await this.fs.mkdirp(dir);
    const id = randomBytes(8).toString("hex");
    const path = join(dir, INCARNATION);
    const tmp = `${path}.tmp`;
    const file = await this.fs.openWritable(tmp, "create");
    try {
      await file.append(new TextEncoder().encode(`${id}\n`));
      await file.datasync();
    } finally {
      await file.close();
    }
    await this.fs.rename(tmp, path);
    await this.fs.syncDir(dir);
    await this.fs.syncDir(this.root);
    return id;
  }

  /** The WAL directory a journal stream belongs to, if that incarnation still exists. */
  async locate(stream: string): Promise<string | undefined> {
    const m = /^([0-9]+)\/([0-9a-f]{16})$/.exec(stream);
    if (m === null) return undefined;
    const group = Number(m[1]);
    return (await this.incarnation(group)) === m[2] ? this.walDir(group) : undefined;
  }

  private async incarnation(group: GroupId): Promise<string | undefined> {
    try {
      const text = new TextDecoder().decode(
        await this.fs.readFile(join(this.dirOf(group), INCARNATION)),
      );
      const id = text.trim();
      return /^[0-9a-f]{16}$/.test(id) ? id : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
