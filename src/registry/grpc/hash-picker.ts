import assert from "node:assert/strict";
import type { experimental, Metadata } from "@grpc/grpc-js";
import { type HashKey, NotEnoughNodesError, type Placement } from "../../hashring/index.js";

/** Where the round-robin turn for calls without a key stands; shared by a balancer's pickers. */
export interface RoundRobinCursor {
  next: number;
}

/** The first value of the key in the call's metadata, or undefined when absent or empty. */
export function hashKeyOf(metadata: Metadata, metadataKey: string): HashKey | undefined {
  const value = metadata.get(metadataKey)[0];
  if (value === undefined || value.length === 0) return undefined;
  return value;
}

/**
 * The picker of a `conclave_hash` balancer with at least one READY child: a
 * call carrying the metadata key goes to the key's owner in the placement,
 * or, when the owner is not READY, to the next owner that is (the order the
 * placement's `getN` gives, so a key moves only while its owner is down).
 * A call without the key goes round robin over the READY children.
 *
 * The placement is shared with the balancer, which changes it only right
 * before publishing a new picker; `ready` is this picker's own snapshot.
 */
export class HashPicker implements experimental.Picker {
  private readonly readyList: readonly experimental.Picker[];

  constructor(
    private readonly placement: Placement,
    /** The pickers of READY children, by node id in the placement. */
    private readonly ready: ReadonlyMap<string, experimental.Picker>,
    private readonly metadataKey: string,
    private readonly cursor: RoundRobinCursor,
  ) {
    assert.ok(ready.size > 0, "a hash picker needs a READY child");
    this.readyList = [...ready.values()];
  }

  pick(args: experimental.PickArgs): experimental.PickResult {
    const key = hashKeyOf(args.metadata, this.metadataKey);
    if (key !== undefined) {
      const owner = this.ready.get(this.placement.get(key)) ?? this.nextReadyOwner(key);
      if (owner !== undefined) return owner.pick(args);
    }
    const index = this.cursor.next % this.readyList.length;
    this.cursor.next = (index + 1) % this.readyList.length;
    return this.readyList[index]!.pick(args);
  }

  private nextReadyOwner(key: HashKey): experimental.Picker | undefined {
    for (const id of this.owners(key)) {
      const picker = this.ready.get(id);
      if (picker !== undefined) return picker;
    }
    // Only a maglev node too light to own a table slot can be READY yet
    // absent from the walk; such a key falls back to round robin.
    return undefined;
  }

  private owners(key: HashKey): string[] {
    try {
      return this.placement.getN(key, this.placement.size);
    } catch (error) {
      // Maglev: nodes without a slot in the table cannot be returned.
      if (error instanceof NotEnoughNodesError && error.available > 0) {
        return this.placement.getN(key, error.available);
      }
      throw error;
    }
  }
}
