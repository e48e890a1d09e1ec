import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Client,
  credentials,
  status as GrpcCode,
  makeClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvStore, utf8 } from "../../src/kv/index.js";
import { etcdServices } from "../../src/server/grpc/protos.js";
import { waitFor } from "../support/wait-for.js";
import { type GrpcCluster, startGrpcCluster } from "./grpc-cluster.js";

const hex = (id: number) => id.toString(16);

type UnaryMethod = (
  request: object,
  callback: (err: ServiceError | null, response: Record<string, unknown>) => void,
) => void;

/** A plain gRPC client of the Maintenance service, decoding as the server does. */
function maintenanceClient(address: string): Client {
  const Maintenance = makeClientConstructor(etcdServices().Maintenance, "Maintenance");
  return new Maintenance(address, credentials.createInsecure());
}

function unary(client: Client, method: string, request: object): Promise<Record<string, unknown>> {
  const call = (client as unknown as Record<string, UnaryMethod>)[method]!.bind(client);
  return new Promise((resolve, reject) =>
    call(request, (err, response) => (err === null ? resolve(response) : reject(err))),
  );
}

describe("etcdctl move-leader and snapshot, and the Maintenance calls etcdctl 3.4 lacks", () => {
  let cluster: GrpcCluster;
  let dir: string;

  beforeAll(async () => {
    cluster = await startGrpcCluster();
    await cluster.leader();
    dir = await mkdtemp(join(tmpdir(), "conclave-maint-test-"));
  });
  afterAll(async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("move-leader hands leadership to the member named, through any endpoint list", async () => {
    const leader = await cluster.leader();
    const target = (await cluster.followers())[0]!;
    const res = await cluster.etcdctl(["move-leader", hex(target.id)]);
    expect(res.stderr).toBe("");
    expect(res.stdout).toBe(`Leadership transferred from ${hex(leader.id)} to ${hex(target.id)}\n`);
    expect((await cluster.leader()).id).toBe(target.id);

    const unknown = await cluster.etcdctl(["move-leader", "ff"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("member not found");
  });

  it("snapshot save writes this member's key space, which a store restores", async () => {
    const writer = cluster.etcd3();
    for (let i = 0; i < 10; i++) await writer.put(`snap/${i}`).value("x".repeat(20_000));
    const leader = await cluster.leader();
    await waitFor(
      () => cluster.members.every((m) => m.store.revision === leader.store.revision),
      "every member applied the writes",
    );
    const follower = (await cluster.followers())[0]!;
    const file = join(dir, "snap.db");
    const res = await cluster.etcdctl(["snapshot", "save", file], {
      endpoints: [cluster.grpcAddressOf(follower.id)],
    });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('"msg":"saved"');
    expect(res.stdout).toBe(`Snapshot saved at ${file}\n`);
    const bytes = await readFile(file);
    // Larger than one 64 KiB message: the stream was cut and put back together in order.
    expect(bytes.length).toBeGreaterThan(150_000);
    const restored = new KvStore();
    await restored.restore(
      (async function* () {
        yield new Uint8Array(bytes);
      })(),
    );
    expect(restored.revision).toBe(follower.store.revision);
    expect(restored.range({ key: utf8("snap/9") }).kvs).toHaveLength(1);

    // The file is Conclave's snapshot, not etcd's bolt database: etcdctl cannot read it.
    const status = await cluster.etcdctl(["snapshot", "status", file]);
    expect(status).toMatchObject({ code: 1, stderr: "Error: invalid database\n" });
    // Its SHA-256 trailer passes etcdctl's check; the bolt database it then opens does not.
    const restore = await cluster.etcdctl([
      "snapshot",
      "restore",
      file,
      `--data-dir=${join(dir, "restored")}`,
    ]);
    expect(restore.code).not.toBe(0);
    expect(restore.stderr).toContain("cannot open database");
    expect(restore.stderr).not.toMatch(/hash|sha256/i);
  });

  it("Snapshot messages carry the header first and count the bytes that remain", async () => {
    const leader = await cluster.leader();
    const client = cluster.etcd3({ hosts: `http://${cluster.grpcAddressOf(leader.id)}` });
    const stream = await client.maintenance.snapshot();
    const messages: { header?: unknown; remaining_bytes: string; blob: Buffer }[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on("data", (m) => messages.push(m));
      stream.on("end", () => resolve());
      stream.on("error", reject);
    });
    expect(messages.length).toBeGreaterThan(1);
    expect(messages[0]!.header).toMatchObject({ member_id: String(leader.id) });
    expect(messages[1]!.header).toBeFalsy();
    let remaining = messages.reduce((n, m) => n + m.blob.length, 0);
    for (const m of messages) {
      expect(m.blob.length).toBeLessThanOrEqual(64 * 1024);
      remaining -= m.blob.length;
      expect(Number(m.remaining_bytes)).toBe(remaining);
    }
  });

  it("Hash, HashKV, Status and Downgrade over gRPC", async () => {
    const leader = await cluster.leader();
    await waitFor(
      () => cluster.members.every((m) => m.store.revision === leader.store.revision),
      "every member caught up",
    );
    const revision = String(leader.store.revision);
    const hashes: unknown[] = [];
    for (const address of cluster.grpcAddresses) {
      const client = maintenanceClient(address);
      try {
        const kv = await unary(client, "HashKV", { revision });
        expect(kv["hash_revision"]).toBe(revision);
        hashes.push(kv["hash"]);
        expect(typeof (await unary(client, "Hash", {}))["hash"]).toBe("number");
      } finally {
        client.close();
      }
    }
    expect(new Set(hashes).size).toBe(1);

    const client = maintenanceClient(cluster.grpcAddressOf(leader.id));
    try {
      const status = await unary(client, "Status", {});
      expect(status).toMatchObject({ version: "3.5.0", leader: String(leader.id) });
      expect(status["header"]).toMatchObject({ member_id: String(leader.id) });
      await expect(unary(client, "Downgrade", { action: "VALIDATE" })).rejects.toMatchObject({
        code: GrpcCode.UNIMPLEMENTED,
      });
      await expect(
        unary(client, "HashKV", { revision: String(leader.store.revision + 1000) }),
      ).rejects.toMatchObject({
        details: "etcdserver: mvcc: required revision is a future revision",
      });
    } finally {
      client.close();
    }
  });
});
