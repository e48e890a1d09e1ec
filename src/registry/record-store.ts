import type { CallOptions } from "../client/index.js";
import { RegistryError } from "./errors.js";
import { decodeInstance, type ServiceInstance } from "./instance.js";
import { deleteOps, recordUnchanged, writeOps } from "./instance-writes.js";
import { instanceKey, type RegistryLayout } from "./keys.js";
import type { RegistryClient } from "./registry-client.js";

/** One instance key as read: its record (undefined when absent or malformed) and its mod revision (0: absent). */
export interface StoredRecord {
  readonly key: string;
  readonly instance: ServiceInstance | undefined;
  readonly modRevision: number;
}

/** Conditional writes retried after losing a race; more means someone rewrites the key nonstop. */
const MAX_RACES = 16;

export async function readRecord(
  client: RegistryClient,
  layout: RegistryLayout,
  service: string,
  id: string,
  call: CallOptions = {},
): Promise<StoredRecord> {
  const key = instanceKey(layout, service, id);
  const { kvs } = await client.range({ key, ...call });
  const kv = kvs[0];
  if (kv === undefined) return { key, instance: undefined, modRevision: 0 };
  let instance: ServiceInstance | undefined;
  try {
    instance = decodeInstance(key, kv.value);
  } catch {
    // Replaced or deleted all the same; only its naming copy cannot be found.
    instance = undefined;
  }
  return { key, instance, modRevision: kv.modRevision };
}

/**
 * Writes the instance on `leaseId` (0: none), replacing whatever record of the
 * same id is there (last writer wins) together with that record's naming copy.
 */
export async function writeReplacing(
  client: RegistryClient,
  layout: RegistryLayout,
  instance: ServiceInstance,
  leaseId: number,
  call: CallOptions = {},
): Promise<void> {
  for (let race = 0; race < MAX_RACES; race++) {
    const stored = await readRecord(client, layout, instance.service, instance.id, call);
    const result = await client.txn(
      {
        compare: [recordUnchanged(stored.key, stored.modRevision)],
        success: writeOps(layout, instance, leaseId, stored.instance),
      },
      call,
    );
    if (result.succeeded) return;
  }
  throw new ContendedRecordError(instanceKey(layout, instance.service, instance.id));
}

/** Deletes the record and its naming copy; false when there was no record. */
export async function deleteRecord(
  client: RegistryClient,
  layout: RegistryLayout,
  service: string,
  id: string,
  call: CallOptions = {},
): Promise<boolean> {
  for (let race = 0; race < MAX_RACES; race++) {
    const stored = await readRecord(client, layout, service, id, call);
    if (stored.modRevision === 0) return false;
    const ops =
      stored.instance === undefined
        ? [{ type: "delete" as const, key: stored.key }]
        : deleteOps(layout, stored.instance);
    const result = await client.txn(
      { compare: [recordUnchanged(stored.key, stored.modRevision)], success: ops },
      call,
    );
    if (result.succeeded) return true;
  }
  throw new ContendedRecordError(instanceKey(layout, service, id));
}

/** Every conditional write of a record lost its race to another writer. */
export class ContendedRecordError extends RegistryError {
  constructor(key: string) {
    super(
      "REGISTRY_CONTENDED",
      `the record at ${JSON.stringify(key)} changed under every one of ${MAX_RACES} attempts to write it`,
    );
  }
}
