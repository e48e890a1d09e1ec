/**
 * `conclave snapshot restore FILE --data-dir DIR --name NAME --initial-cluster ...`:
 * offline, builds a new member's data directory whose state is the snapshot.
 *
 * The directory gets a Raft snapshot at index max(1, the snapshot's applied
 * index), term 1, whose configuration is exactly the members of
 * --initial-cluster, with hard state { term 1, commit index }. Every member
 * of the new cluster is restored from the same file with the same
 * --initial-cluster, so all start from identical logs; `conclave serve` on the
 * directory then restores the store from it (RaftNode.start restores from a
 * stored snapshot) and elects a leader in term 2. A directory that is not
 * empty is refused: restore never overwrites a member's data.
 */
import { createReadStream } from "node:fs";
import { readdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { ConfState } from "../../raft/core/index.js";
import { encodeNodeSnapshot } from "../../raft/node/snapshot-codec.js";
import {
  DataDirLockedError,
  dataDirHolder,
  LOCK_FILE,
  WalStorage,
} from "../../raft/storage/index.js";
import { parsePeerAddress } from "../../raft/transport/index.js";
import type { Flags } from "../args.js";
import type { CommandDef } from "../command.js";
import { checkSnapshotFile } from "./snapshot-save.js";

/** One entry of `--initial-cluster`, in `conclave serve`'s spelling: name=id@host:port[@clientUrl]. */
export interface RestoreMember {
  readonly name: string;
  readonly id: number;
  readonly peerAddress: string;
}

export function parseRestoreCluster(text: string, fail: (m: string) => never): RestoreMember[] {
  const members: RestoreMember[] = [];
  for (const entry of text.split(",").map((e) => e.trim())) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,63})=([0-9]{1,15})@([^@]+)(?:@(.+))?$/.exec(entry);
    if (m === null)
      fail(`--initial-cluster entry "${entry}" must be name=id@host:port[@clientUrl]`);
    const [, name = "", idText = "", peerAddress = ""] = m;
    const id = Number(idText);
    if (!Number.isSafeInteger(id) || id <= 0)
      fail(`--initial-cluster entry "${entry}": id must be positive`);
    try {
      parsePeerAddress(peerAddress);
    } catch (err) {
      fail(`--initial-cluster entry "${entry}": ${(err as Error).message}`);
    }
    if (members.some((x) => x.id === id || x.name === name)) {
      fail(`--initial-cluster entry "${entry}" repeats a member name or id`);
    }
    members.push({ name, id, peerAddress });
  }
  return members;
}

export interface RestoreOptions {
  readonly file: string;
  readonly dataDir: string;
  readonly name: string;
  readonly members: readonly RestoreMember[];
  readonly clusterId: string;
}

export interface RestoreReport {
  readonly dataDir: string;
  readonly memberId: number;
  readonly raftIndex: number;
  readonly revision: number;
  readonly keyCount: number;
}

/** A LOCK file alone is what a refused or finished tool leaves; nothing else may be there. */
async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).every((name) => name === LOCK_FILE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw err;
  }
}

export async function restoreSnapshot(
  o: RestoreOptions,
  fail: (message: string) => never,
): Promise<RestoreReport> {
  const self = o.members.find((m) => m.name === o.name);
  if (self === undefined) fail(`--name ${o.name} is not a member of --initial-cluster`);
  const dataDir = resolve(o.dataDir);
  const holder = await dataDirHolder(dataDir);
  if (holder.held) fail(new DataDirLockedError(dataDir, holder.pid).message);
  if (!(await isEmptyOrMissing(dataDir))) fail(`--data-dir ${dataDir} is not empty`);
  // Read the whole file once before anything is written: a corrupt snapshot leaves no directory behind.
  const check = await checkSnapshotFile(o.file);
  const index = Math.max(1, check.appliedIndex);
  const confState: ConfState = {
    voters: o.members.map((m) => m.id),
    votersOutgoing: [],
    learners: [],
    learnersNext: [],
    autoLeave: false,
  };
  const peers = new Map(o.members.map((m) => [m.id, m.peerAddress]));
  // mustBeNew: checked again under the directory's lock, so two restores cannot fill one directory.
  const storage = await WalStorage.open(dataDir, {
    clusterId: o.clusterId,
    nodeId: self.id,
    mustBeNew: true,
  });
  try {
    const snapshot = await storage.receiveSnapshot(
      { index, term: 1, confState },
      encodeNodeSnapshot(peers, createReadStream(o.file)),
    );
    await storage.save({ snapshot, hardState: { term: 1, vote: 0, commit: index } });
  } finally {
    await storage.close();
  }
  return {
    dataDir,
    memberId: self.id,
    raftIndex: index,
    revision: check.revision,
    keyCount: check.keyCount,
  };
}

function required(flags: Flags, name: string): string {
  const v = flags.string(name);
  if (v === undefined || v === "") flags.fail(`missing flag --${name}`);
  return v;
}

export const snapshotRestoreCommand: CommandDef = {
  offline: true,
  spec: {
    name: "snapshot restore",
    summary:
      "Offline: creates a new member's data directory whose state is the snapshot in FILE. No server is contacted.",
    args: [{ name: "FILE" }],
    options: {
      "data-dir": {
        type: "string",
        valueName: "DIR",
        description: "the new member's data directory; must be empty or absent (required)",
      },
      name: {
        type: "string",
        valueName: "NAME",
        description: "this member's name in --initial-cluster (required)",
      },
      "initial-cluster": {
        type: "string",
        valueName: "name=id@host:port,...",
        description:
          "every member of the restored cluster, as `conclave serve` takes it (required)",
      },
      "cluster-id": {
        type: "string",
        valueName: "ID",
        description: "cluster token the data dir is stamped with (default conclave)",
      },
    },
    details:
      "Restore every member of the new cluster from the same FILE with the same --initial-cluster,\n" +
      "then start each with `conclave serve` on its --data-dir (without --join). Leases in the\n" +
      "snapshot keep their TTLs and expire unless kept alive after the restart.\n" +
      "Example:\n" +
      "  conclave snapshot restore backup.snap --data-dir data/n1 --name n1 \\\n" +
      "    --initial-cluster n1=1@127.0.0.1:7380,n2=2@127.0.0.1:7382,n3=3@127.0.0.1:7384",
  },
  async run(ctx, [file = ""], flags) {
    const fail = (m: string): never => flags.fail(m);
    const members = parseRestoreCluster(required(flags, "initial-cluster"), fail);
    const report = await restoreSnapshot(
      {
        file,
        dataDir: required(flags, "data-dir"),
        name: required(flags, "name"),
        members,
        clusterId: flags.string("cluster-id") ?? "conclave",
      },
      fail,
    );
    if (ctx.out.json) ctx.out.writeJson(report);
    else {
      ctx.out.write(
        `Restored ${file} into ${report.dataDir} as member ${report.memberId} ` +
          `(raft index ${report.raftIndex}, revision ${report.revision}, ${report.keyCount} keys)\n`,
      );
    }
    return 0;
  },
};
