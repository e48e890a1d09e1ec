import type { Balancer } from "../../../src/registry/balancers/index.js";
import {
  type HealthStatus,
  type ServiceInstance,
  validateInstance,
} from "../../../src/registry/index.js";

export function instance(
  id: string,
  options: { weight?: number; status?: HealthStatus; port?: number; address?: string } = {},
): ServiceInstance {
  return validateInstance({
    service: "api",
    id,
    address: options.address ?? "127.0.0.1",
    port: options.port ?? 8000,
    ...(options.weight === undefined ? {} : { weight: options.weight }),
    ...(options.status === undefined ? {} : { status: options.status }),
  });
}

export function instances(count: number, prefix = "i"): ServiceInstance[] {
  return Array.from({ length: count }, (_, i) => instance(`${prefix}-${i}`, { port: 8000 + i }));
}

/** The instance id a pick lands on, released at once. */
export function pickId(balancer: Balancer, key?: string, exclude?: readonly string[]): string {
  const picked = balancer.pick({
    ...(key === undefined ? {} : { key }),
    ...(exclude === undefined ? {} : { exclude }),
  });
  picked.release();
  return picked.instance.id;
}

export function keys(count: number, prefix = "user"): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}:${i * 7919}`);
}

export function counts(ids: readonly string[]): Map<string, number> {
  const result = new Map<string, number>();
  for (const id of ids) result.set(id, (result.get(id) ?? 0) + 1);
  return result;
}

/** An async iterable fed by hand, as Registry.watch would be fed by the key space. */
export class SnapshotQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | undefined;
  private ended = false;
  closed = false;

  push(item: T): void {
    if (this.waiting !== undefined) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  end(): void {
    this.ended = true;
    this.waiting?.({ value: undefined, done: true });
    this.waiting = undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiting = resolve;
        });
      },
      return: () => {
        this.closed = true;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
