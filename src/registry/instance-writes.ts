import type { Compare, TxnOp } from "../client/index.js";
import { encodeInstance, isServed, type ServiceInstance } from "./instance.js";
import { instanceKey, namingKey, namingValue, type RegistryLayout } from "./keys.js";

/**
 * The operations that store one instance: its record and, while it is served,
 * its naming-format copy, both on `leaseId` (0: no lease). When the record
 * replaces one with another address, that one's naming copy goes too.
 */
export function writeOps(
  layout: RegistryLayout,
  instance: ServiceInstance,
  leaseId: number,
  previous?: ServiceInstance,
): TxnOp[] {
  const ops: TxnOp[] = [
    {
      type: "put",
      key: instanceKey(layout, instance.service, instance.id),
      value: encodeInstance(instance),
      lease: leaseId,
    },
  ];
  const naming = namingKey(layout, instance);
  const previousNaming = previous === undefined ? undefined : namingKey(layout, previous);
  if (previousNaming !== undefined && previousNaming !== naming) {
    ops.push({ type: "delete", key: previousNaming });
  }
  if (naming !== undefined) {
    ops.push(
      isServed(instance)
        ? { type: "put", key: naming, value: namingValue(instance), lease: leaseId }
        : { type: "delete", key: naming },
    );
  }
  return ops;
}

/** Deletes an instance's record and its naming copy (when it has one). */
export function deleteOps(layout: RegistryLayout, instance: ServiceInstance): TxnOp[] {
  const ops: TxnOp[] = [
    { type: "delete", key: instanceKey(layout, instance.service, instance.id) },
  ];
  const naming = namingKey(layout, instance);
  if (naming !== undefined) ops.push({ type: "delete", key: naming });
  return ops;
}

/** The record is as read at `modRevision` (0: absent). */
export function recordUnchanged(key: string, modRevision: number): Compare {
  return modRevision === 0
    ? { key, target: "create", value: 0 }
    : { key, target: "mod", value: modRevision };
}
