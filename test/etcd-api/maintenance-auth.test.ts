import {
  type ClientReadableStream,
  credentials,
  status as GrpcCode,
  Metadata,
  makeClientConstructor,
} from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { etcdServices } from "../../src/server/grpc/protos.js";
import { enableAuth, ROOT_PASSWORD, token } from "../server/auth-support.js";
import { type GrpcCluster, startGrpcCluster } from "./grpc-cluster.js";

/** Reads a Snapshot call to its end: the number of messages, or the status it failed with. */
async function snapshotCall(address: string, tokenValue?: string): Promise<number> {
  const Maintenance = makeClientConstructor(etcdServices().Maintenance, "Maintenance");
  const client = new Maintenance(address, credentials.createInsecure());
  const metadata = new Metadata();
  if (tokenValue !== undefined) metadata.set("token", tokenValue);
  const open = (client as unknown as Record<string, (r: object, m: Metadata) => unknown>)[
    "Snapshot"
  ]!.bind(client);
  const stream = open({}, metadata) as ClientReadableStream<unknown>;
  try {
    return await new Promise<number>((resolve, reject) => {
      let messages = 0;
      stream.on("data", () => messages++);
      stream.on("end", () => resolve(messages));
      stream.on("error", reject);
    });
  } finally {
    client.close();
  }
}

async function unaryCall(
  address: string,
  method: string,
  tokenValue?: string,
): Promise<Record<string, unknown>> {
  const Maintenance = makeClientConstructor(etcdServices().Maintenance, "Maintenance");
  const client = new Maintenance(address, credentials.createInsecure());
  const metadata = new Metadata();
  if (tokenValue !== undefined) metadata.set("token", tokenValue);
  type Unary = (
    r: object,
    m: Metadata,
    cb: (err: Error | null, res: Record<string, unknown>) => void,
  ) => void;
  const call = (client as unknown as Record<string, Unary>)[method]!.bind(client);
  try {
    return await new Promise((resolve, reject) =>
      call({}, metadata, (err, res) => (err === null ? resolve(res) : reject(err))),
    );
  } finally {
    client.close();
  }
}

describe("the Maintenance service while auth is enabled", () => {
  let cluster: GrpcCluster;

  beforeAll(async () => {
    cluster = await startGrpcCluster({ auth: { bcryptCost: 4 } });
    await enableAuth(await cluster.leader());
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it("streams a snapshot to root only", async () => {
    const leader = await cluster.leader();
    const address = cluster.grpcAddressOf(leader.id);
    await expect(snapshotCall(address)).rejects.toMatchObject({
      code: GrpcCode.INVALID_ARGUMENT,
      details: "etcdserver: user name is empty",
    });
    const reader = await token(leader, "reader", "reader-password");
    await expect(snapshotCall(address, reader)).rejects.toMatchObject({
      code: GrpcCode.PERMISSION_DENIED,
      details: "etcdserver: permission denied",
    });
    const root = await token(leader, "root", ROOT_PASSWORD);
    expect(await snapshotCall(address, root)).toBeGreaterThan(0);
  });

  // etcdctl --user needs the Auth service's Authenticate; the token is sent by hand here.
  it("answers Hash, HashKV and Defragment to root only, Status to any user", async () => {
    const leader = await cluster.leader();
    const address = cluster.grpcAddressOf(leader.id);
    const root = await token(leader, "root", ROOT_PASSWORD);
    const reader = await token(leader, "reader", "reader-password");
    for (const method of ["Hash", "HashKV", "Defragment"]) {
      expect(await unaryCall(address, method, root)).toHaveProperty("header");
      await expect(unaryCall(address, method, reader)).rejects.toMatchObject({
        code: GrpcCode.PERMISSION_DENIED,
      });
    }
    expect(await unaryCall(address, "Status", reader)).toMatchObject({ version: "3.5.0" });
    await expect(unaryCall(address, "Status")).rejects.toMatchObject({
      code: GrpcCode.INVALID_ARGUMENT,
    });
  });
});
