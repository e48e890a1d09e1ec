import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { StorageCorruptionError } from "../../../src/raft/storage/errors.js";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import { SimFs } from "./sim-fs.js";
import {
  DIR,
  entries,
  IDENTITY,
  type Model,
  matchState,
  observe,
  runWorkload,
} from "./workload.js";

const SEGMENT_BYTES = 1024;

interface Image {
  files: Map<string, Uint8Array>;
  model: Model;
}

/** The reference workload's directory plus more appends, so several segments follow the base. */
async function buildImage(): Promise<Image> {
  const fs = new SimFs();
  const run = await runWorkload(fs, SEGMENT_BYTES);
  if (run.error) throw run.error;
  const s = await WalStorage.open(DIR, { ...IDENTITY, fs, segmentMaxBytes: SEGMENT_BYTES });
  for (let i = 62; i <= 100; i += 3) {
    const req = { entries: entries(i, i + 2, 6, 50), hardState: { term: 6, vote: 0, commit: i } };
    await s.save(req);
    run.model.save(req);
  }
  await s.close();
  return { files: fs.files(), model: run.model };
}

function segmentPaths(files: Map<string, Uint8Array>): string[] {
  return [...files.keys()].filter((p) => p.endsWith(".seg")).sort();
}

async function openImage(files: Map<string, Uint8Array>): Promise<WalStorage> {
  return WalStorage.open(DIR, {
    ...IDENTITY,
    fs: SimFs.fromFiles(files),
    segmentMaxBytes: SEGMENT_BYTES,
  });
}

function withFile(
  files: Map<string, Uint8Array>,
  path: string,
  bytes: Uint8Array,
): Map<string, Uint8Array> {
  const copy = new Map(files);
  copy.set(path, bytes);
  return copy;
}

describe("WAL corruption detection", () => {
  let image: Image;
  let segments: string[];
  const finalState = () => image.model.states.length - 1;

  beforeAll(async () => {
    image = await buildImage();
    segments = segmentPaths(image.files);
  });

  it("the image spans a base segment and continuation segments", async () => {
    expect(segments.length).toBeGreaterThanOrEqual(3);
    const s = await openImage(image.files);
    expect(await observe(s)).toEqual(image.model.current);
    await s.close();
  });

  it("a damaged record before the tail fails open with the file and offset", async () => {
    const path = segments[0]!;
    const bytes = image.files.get(path)!.slice();
    bytes[32 + 20]! ^= 0x10; // inside the first record's body (the snapshot record)
    const err = await openImage(withFile(image.files, path, bytes)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect((err as StorageCorruptionError).file).toBe(path);
    expect((err as StorageCorruptionError).offset).toBe(32);
    expect((err as StorageCorruptionError).code).toBe("STORAGE_CORRUPT");
  });

  it("every single bit flip is detected: open fails, or a reported torn tail leaves a prefix, or reading the snapshot fails", async () => {
    const paths = [...image.files.keys()].sort();
    let failedOpen = 0;
    let tornTail = 0;
    let badSnapshotRead = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.noBias(fc.nat({ max: paths.length - 1 })),
        fc.noBias(fc.nat({ max: 1_000_000 })),
        async (fileIndex, where) => {
          const path = paths[fileIndex]!;
          const bytes = image.files.get(path)!.slice();
          const bit = where % (bytes.length * 8);
          bytes[bit >> 3]! ^= 1 << (bit & 7);
          const files = withFile(image.files, path, bytes);
          let s: WalStorage;
          try {
            s = await openImage(files);
          } catch (err) {
            expect(err).toBeInstanceOf(StorageCorruptionError);
            failedOpen++;
            return;
          }
          try {
            let observed: Awaited<ReturnType<typeof observe>>;
            try {
              observed = await observe(s);
            } catch (err) {
              // Snapshot data is checked when it is read, not at open.
              expect(err).toBeInstanceOf(StorageCorruptionError);
              expect(path.endsWith(".snap")).toBe(true);
              badSnapshotRead++;
              return;
            }
            // Only damage in the newest segment's last record can pass as a torn write.
            expect(s.recovery.tornTail?.file).toBe(path.slice(DIR.length + 1));
            expect(path).toBe(segments[segments.length - 1]);
            expect(matchState(image.model, observed, 0, finalState())).toBeGreaterThanOrEqual(0);
            tornTail++;
          } finally {
            await s.close();
          }
        },
      ),
      { seed: 20240611, numRuns: 400 },
    );
    expect(failedOpen).toBeGreaterThan(100);
    expect(badSnapshotRead).toBeGreaterThan(0);
    expect(tornTail).toBeGreaterThan(0);
  });

  it("random truncation of any file is detected or recovers a reported prefix of the log", async () => {
    const paths = [...image.files.keys()].sort();
    let reportedTorn = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.noBias(fc.nat({ max: paths.length - 1 })),
        fc.noBias(fc.nat({ max: 1_000_000 })),
        async (fileIndex, where) => {
          const path = paths[fileIndex]!;
          const full = image.files.get(path)!;
          const length = where % full.length;
          const files = withFile(image.files, path, full.slice(0, length));
          let s: WalStorage;
          try {
            s = await openImage(files);
          } catch (err) {
            expect(err).toBeInstanceOf(StorageCorruptionError);
            return;
          }
          try {
            const observed = await observe(s);
            if (path.endsWith("identity.json")) {
              // Only the trailing newline can go without changing the content.
              expect(length).toBe(full.length - 1);
              expect(observed).toEqual(image.model.current);
              return;
            }
            // Only the newest segment can lose a suffix, and only at a record boundary silently.
            expect(path).toBe(segments[segments.length - 1]);
            expect(matchState(image.model, observed, 0, finalState())).toBeGreaterThanOrEqual(0);
            if (s.recovery.tornTail) reportedTorn++;
          } finally {
            await s.close();
          }
        },
      ),
      { seed: 77, numRuns: 200 },
    );
    expect(reportedTorn).toBeGreaterThan(0);
  });

  it("a non-final segment cut at a record boundary is detected by its missing closing record", async () => {
    const path = segments[1]!;
    const bytes = image.files.get(path)!;
    // The closing record (SegmentEnd, 24 bytes framed) is the last thing in the segment.
    const err = await openImage(
      withFile(image.files, path, bytes.slice(0, bytes.length - 24)),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect((err as Error).message).toContain("closing record");
  });

  it("a missing segment in the middle is detected", async () => {
    const files = new Map(image.files);
    files.delete(segments[1]!);
    const err = await openImage(files).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect((err as Error).message).toContain("segment missing");
  });

  it("a missing snapshot file is detected", async () => {
    const files = new Map(image.files);
    for (const p of [...files.keys()]) if (p.endsWith(".snap")) files.delete(p);
    const err = await openImage(files).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect((err as Error).message).toContain("snapshot file referenced by the WAL is missing");
  });

  it("zeros after the last record (length persisted, data not) are a torn tail", async () => {
    const path = segments[segments.length - 1]!;
    const bytes = image.files.get(path)!;
    const padded = new Uint8Array(bytes.length + 700);
    padded.set(bytes);
    const s = await openImage(withFile(image.files, path, padded));
    expect(s.recovery.tornTail).toMatchObject({ offset: bytes.length, droppedBytes: 700 });
    expect(await observe(s)).toEqual(image.model.current);
    await s.close();
  });

  it("bytes after a segment's closing record are corruption, not a torn tail", async () => {
    const path = segments[0]!;
    const bytes = image.files.get(path)!;
    const longer = new Uint8Array(bytes.length + 64);
    longer.set(bytes);
    const err = await openImage(withFile(image.files, path, longer)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect((err as StorageCorruptionError).offset).toBe(bytes.length);
  });

  it("a torn record followed by a valid one is corruption (acknowledged data after it)", async () => {
    const path = segments[segments.length - 1]!;
    const bytes = image.files.get(path)!.slice();
    // Damage the first record of the newest segment; valid records follow it.
    bytes[32 + 14]! ^= 0xff;
    const err = await openImage(withFile(image.files, path, bytes)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect((err as StorageCorruptionError).offset).toBe(32);
  });
});
