import type { SnapshotSource } from "../../../src/registry/grpc/resolver.js";
import {
  type InstanceInput,
  type ServiceSnapshot,
  validateInstance,
} from "../../../src/registry/instance.js";

/**
 * An in-memory stand-in for `Registry.watch`: each watch yields the service's
 * current snapshot, then the newest one after every publish (intermediate
 * ones may be skipped, as a real watch may coalesce), until its signal aborts.
 */
export class MemorySnapshots {
  private readonly current = new Map<string, ServiceSnapshot>();
  private readonly wakers = new Set<() => void>();
  private revision = 0;
  /** Watches open right now: a resolver's destroy must bring this back down. */
  activeWatches = 0;

  publish(service: string, instances: readonly Omit<InstanceInput, "service">[]): number {
    this.revision++;
    this.current.set(service, {
      service,
      revision: this.revision,
      instances: instances.map((input) => validateInstance({ ...input, service })),
    });
    for (const wake of this.wakers) wake();
    return this.revision;
  }

  readonly source: SnapshotSource = (service, signal) => this.watch(service, signal);

  private async *watch(service: string, signal: AbortSignal): AsyncGenerator<ServiceSnapshot> {
    this.activeWatches++;
    try {
      let seen = -1;
      while (!signal.aborted) {
        const snapshot = this.current.get(service);
        if (snapshot !== undefined && snapshot.revision !== seen) {
          seen = snapshot.revision;
          yield snapshot;
          continue;
        }
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            this.wakers.delete(wake);
            signal.removeEventListener("abort", wake);
            resolve();
          };
          this.wakers.add(wake);
          signal.addEventListener("abort", wake);
        });
      }
    } finally {
      this.activeWatches--;
    }
  }
}
