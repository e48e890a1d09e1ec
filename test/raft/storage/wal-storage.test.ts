import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../../src/errors.js";
import { Xoshiro128 } from "../../../src/raft/core/prng.js";
import {
  DataDirMismatchError,
  StaleSnapshotError,
  StorageClosedError,
  StorageCorruptionError,
  StorageFailedError,
} from "../../../src/raft/storage/errors.js";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import { SimFs } from "./sim-fs.js";
import { CONF, DIR, entries, entry, IDENTITY, observe } from "./workload.js";

function open(
  fs: SimFs,
  extra: Partial<Parameters<typeof WalStorage.open>[1]> = {},
): Promise<WalStorage> {
  return WalStorage.open(DIR, { ...IDENTITY, fs, segmentMaxBytes: 1024, ...extra });
}

function names(fs: SimFs): string[] {
  return [...fs.files().keys()].map((p) => p.slice(DIR.length + 1)).sort();
}

describe("WalStorage: data directory identity", () => {
  it("a new directory records its cluster and node", async () => {
    const fs = new SimFs();
    const s = await open(fs);
    await s.close();
    expect(names(fs)).toEqual(["identity.json", "wal-0000000000000001.seg"]);
    const identity = JSON.parse(new TextDecoder().decode(fs.files().get(`${DIR}/identity.json`)!));
    expect(identity).toMatchObject({ clusterId: "cluster-a", nodeId: 1 });
  });

  it("refuses a directory of another cluster or another node, without touching it", async () => {
    const fs = new SimFs();
    const s = await open(fs);
    await s.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 0, commit: 1 } });
    await s.close();
    const before = fs.files();
    const otherCluster = await open(fs, { clusterId: "cluster-b" }).catch((e: unknown) => e);
    expect(otherCluster).toBeInstanceOf(DataDirMismatchError);
    expect((otherCluster as DataDirMismatchError).code).toBe("DATA_DIR_MISMATCH");
    expect((otherCluster as Error).message).toContain('clusterId "cluster-a"');
    const otherNode = await open(fs, { nodeId: 2 }).catch((e: unknown) => e);
    expect(otherNode).toBeInstanceOf(DataDirMismatchError);
    expect((otherNode as Error).message).toContain("nodeId 1");
    expect(fs.files()).toEqual(before);
  });

  it("a damaged identity file fails open", async () => {
    const fs = new SimFs();
    await (await open(fs)).close();
    const files = fs.files();
    const path = `${DIR}/identity.json`;
    const text = new TextDecoder().decode(files.get(path)!).replace('"nodeId":1', '"nodeId":7');
    files.set(path, new TextEncoder().encode(text));
    await expect(open(SimFs.fromFiles(files), { nodeId: 7 })).rejects.toThrow(
      StorageCorruptionError,
    );
  });

  it("a WAL holding data without an identity file is refused; a pristine one is adopted", async () => {
    const fs = new SimFs();
    const s = await open(fs);
    await s.save({ hardState: { term: 1, vote: 1, commit: 0 } });
    await s.close();
    const files = fs.files();
    files.delete(`${DIR}/identity.json`);
    const err = await open(SimFs.fromFiles(files)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect((err as Error).message).toContain("identity file missing");

    const fresh = new SimFs();
    await (await open(fresh)).close();
    const pristine = fresh.files();
    pristine.delete(`${DIR}/identity.json`);
    const adoptedFs = SimFs.fromFiles(pristine);
    await (await open(adoptedFs)).close();
    expect(names(adoptedFs)).toContain("identity.json");
  });

  it("validates its options", async () => {
    const fs = new SimFs();
    await expect(open(fs, { clusterId: "" })).rejects.toThrow(InvalidArgumentError);
    await expect(open(fs, { nodeId: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(open(fs, { nodeId: 1.5 })).rejects.toThrow(InvalidArgumentError);
    await expect(open(fs, { segmentMaxBytes: 100 })).rejects.toThrow(InvalidArgumentError);
    await expect(open(fs, { snapshotCatchUpEntries: -1 })).rejects.toThrow(InvalidArgumentError);
    await expect(WalStorage.open("", { ...IDENTITY, fs })).rejects.toThrow(InvalidArgumentError);
  });
});

describe("WalStorage: saving", () => {
  it("rejects invalid saves with InvalidArgumentError and changes nothing", async () => {
    const fs = new SimFs();
    const s = await open(fs);
    await s.save({ entries: entries(1, 4, 2), hardState: { term: 2, vote: 3, commit: 2 } });
    const before = await observe(s);
    const bad: Array<[string, Parameters<WalStorage["save"]>[0]]> = [
      ["gap", { entries: entries(6, 7, 2) }],
      ["non-consecutive", { entries: [entry(5, 2), entry(7, 2)] }],
      ["term going back", { entries: [entry(5, 1)] }],
      ["term going back inside", { entries: [entry(5, 3), entry(6, 2)] }],
      ["replacing committed entries", { entries: entries(2, 3, 3) }],
      ["zero term", { entries: [entry(5, 0)] }],
      ["data not bytes", { entries: [{ ...entry(5, 2), data: "x" as unknown as Uint8Array }] }],
      ["hard state term going back", { hardState: { term: 1, vote: 0, commit: 2 } }],
      ["second vote in a term", { hardState: { term: 2, vote: 1, commit: 2 } }],
      ["commit going back", { hardState: { term: 2, vote: 3, commit: 1 } }],
      ["commit beyond the log", { hardState: { term: 2, vote: 3, commit: 5 } }],
      ["negative commit", { hardState: { term: 2, vote: 3, commit: -1 } }],
      [
        "valid entries with an invalid hard state",
        { entries: [entry(5, 2)], hardState: { term: 1, vote: 0, commit: 0 } },
      ],
    ];
    for (const [what, req] of bad) {
      await expect(s.save(req), what).rejects.toThrow(InvalidArgumentError);
    }
    await expect(
      s.save({
        snapshot: { metadata: { index: 0, term: 1, confState: CONF }, data: new Uint8Array() },
      }),
    ).rejects.toThrow(InvalidArgumentError);
    expect(await observe(s)).toEqual(before);
    await s.close();
    const reopened = await open(fs);
    expect(await observe(reopened)).toEqual(before);
    await reopened.close();
  });

  it("a vote in a new term and the same vote again are fine", async () => {
    const s = await open(new SimFs());
    await s.save({ hardState: { term: 1, vote: 2, commit: 0 } });
    await s.save({ hardState: { term: 1, vote: 2, commit: 0 } });
    await s.save({ hardState: { term: 2, vote: 3, commit: 0 } });
    expect(s.hardState()).toEqual({ term: 2, vote: 3, commit: 0 });
    await s.close();
  });

  it("segments rotate at the configured size and replay in order", async () => {
    const fs = new SimFs();
    const s = await open(fs);
    for (let i = 1; i <= 60; i++) await s.save({ entries: [entry(i, 1, 100)] });
    await s.close();
    const segments = names(fs).filter((n) => n.endsWith(".seg"));
    expect(segments.length).toBeGreaterThan(5);
    for (const seg of segments)
      expect(fs.files().get(`${DIR}/${seg}`)!.length).toBeLessThan(1024 + 200);
    const reopened = await open(fs);
    expect(reopened.recovery.segmentsReplayed).toEqual(segments);
    expect(reopened.entries(1, 61, Number.MAX_SAFE_INTEGER)).toEqual(entries(1, 60, 1, 100));
    await reopened.close();
  });

  it("a failed fsync fails that save and every later write; nothing unsynced is served after restart", async () => {
    let failSyncs = false;
    const fs = new SimFs({
      fault: (op) =>
        failSyncs && op.kind === "datasync"
          ? Object.assign(new Error("EIO: i/o error"), { code: "EIO" })
          : undefined,
    });
    const s = await open(fs);
    await s.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 0, commit: 3 } });
    failSyncs = true;
    const err = await s.save({ entries: entries(4, 5, 1) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageFailedError);
    expect(((err as Error).cause as Error).message).toContain("EIO");
    failSyncs = false;
    await expect(s.save({ entries: [entry(6, 1)] })).rejects.toThrow(StorageFailedError);
    await expect(s.createSnapshot(2, CONF, new Uint8Array([1]))).rejects.toThrow(
      StorageFailedError,
    );
    await s.close();
    const restarted = await open(fs.crashImage(new Xoshiro128(5)));
    expect(restarted.lastIndex()).toBeGreaterThanOrEqual(3);
    expect(restarted.entries(1, 4, Number.MAX_SAFE_INTEGER)).toEqual(entries(1, 3, 1));
    await restarted.close();
  });

  it("after close, writes reject with StorageClosedError and reads still answer", async () => {
    const s = await open(new SimFs());
    await s.save({ entries: entries(1, 2, 1) });
    await s.close();
    await s.close();
    await expect(s.save({ entries: [entry(3, 1)] })).rejects.toThrow(StorageClosedError);
    await expect(s.createSnapshot(1, CONF, new Uint8Array())).rejects.toThrow(StorageClosedError);
    await expect(s.openSnapshot()).rejects.toThrow(StorageClosedError);
    expect(s.lastIndex()).toBe(2);
  });

  it("snapshot and compaction arguments are checked", async () => {
    const s = await open(new SimFs());
    await s.save({ entries: entries(1, 6, 1), hardState: { term: 1, vote: 0, commit: 4 } });
    await expect(s.createSnapshot(5, CONF, new Uint8Array())).rejects.toThrow(InvalidArgumentError);
    await expect(s.createSnapshot(0, CONF, new Uint8Array())).rejects.toThrow(InvalidArgumentError);
    await expect(s.createSnapshot(2, { ...CONF, voters: [0] }, new Uint8Array())).rejects.toThrow(
      InvalidArgumentError,
    );
    await s.createSnapshot(3, CONF, new Uint8Array([3]));
    await expect(s.createSnapshot(3, CONF, new Uint8Array())).rejects.toThrow(StaleSnapshotError);
    await expect(s.createSnapshot(2, CONF, new Uint8Array())).rejects.toThrow(StaleSnapshotError);
    await expect(s.compact(4)).rejects.toThrow(InvalidArgumentError);
    await expect(
      s.save({
        snapshot: { metadata: { index: 3, term: 1, confState: CONF }, data: new Uint8Array() },
      }),
    ).rejects.toThrow(StaleSnapshotError);
    await s.close();
  });
});
