import { backoffDelayMs, type RandomSource } from "../client/backoff.js";
import { bytesToString, prefixEnd, toBytes } from "../client/bytes.js";
import {
  ClientClosedError,
  CompactedError,
  DeadlineExceededError,
  UnavailableError,
} from "../client/index.js";
import { sleepUnlessAborted } from "../client/sleep.js";
import { MalformedRegistrationError } from "./errors.js";
import {
  decodeInstance,
  isServed,
  type ServiceInstance,
  type ServiceSnapshot,
} from "./instance.js";
import { allServicesPrefix, parseInstanceKey, type RegistryLayout, servicePrefix } from "./keys.js";
import type { KeyValueView, RegistryClient } from "./registry-client.js";

/** What discovery needs from the registry that runs it. */
export interface DiscoveryContext {
  readonly client: RegistryClient;
  readonly layout: RegistryLayout;
  readonly random: RandomSource;
  /** Told about every record skipped because it is not a registration. */
  readonly onMalformed: (error: MalformedRegistrationError) => void;
}

export interface DiscoveryOptions {
  /** Also critical instances. Default false: only served ones (passing, warning). */
  readonly includeUnhealthy?: boolean;
  readonly signal?: AbortSignal;
}

/** Records under a prefix at one revision, by key. */
interface Listing {
  readonly revision: number;
  readonly records: Map<string, ServiceInstance>;
}

/** The record a key-value holds, or undefined (reported) when it is not one. */
export function recordOf(ctx: DiscoveryContext, kv: KeyValueView): ServiceInstance | undefined {
  const key = bytesToString(kv.key);
  try {
    const where = parseInstanceKey(ctx.layout, key);
    if (where === undefined) throw new MalformedRegistrationError(key, "not an instance key");
    const instance = decodeInstance(key, kv.value);
    if (instance.service !== where.service || instance.id !== where.id) {
      throw new MalformedRegistrationError(key, "the record names another service or id");
    }
    return instance;
  } catch (error) {
    if (!(error instanceof MalformedRegistrationError)) throw error;
    ctx.onMalformed(error);
    return undefined;
  }
}

/** Every record under `prefix`, page by page at the first page's revision: one linearizable read. */
async function list(ctx: DiscoveryContext, prefix: string, signal?: AbortSignal): Promise<Listing> {
  const end = prefixEnd(toBytes(prefix));
  const records = new Map<string, ServiceInstance>();
  let page = await ctx.client.range({ key: prefix, prefix: true, ...(signal && { signal }) });
  const revision = page.revision;
  for (;;) {
    for (const kv of page.kvs) {
      const instance = recordOf(ctx, kv);
      if (instance !== undefined) records.set(bytesToString(kv.key), instance);
    }
    if (!page.more || page.nextKey === undefined) return { revision, records };
    page = await ctx.client.range({
      key: page.nextKey,
      rangeEnd: end,
      revision,
      ...(signal && { signal }),
    });
  }
}

function snapshotOf(
  service: string,
  revision: number,
  records: Map<string, ServiceInstance>,
  includeUnhealthy: boolean,
): ServiceSnapshot {
  const instances = [...records.values()]
    .filter((i) => includeUnhealthy || isServed(i))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { service, revision, instances };
}

export async function resolveService(
  ctx: DiscoveryContext,
  service: string,
  options: DiscoveryOptions = {},
): Promise<ServiceSnapshot> {
  const { revision, records } = await list(ctx, servicePrefix(ctx.layout, service), options.signal);
  return snapshotOf(service, revision, records, options.includeUnhealthy === true);
}

/** Failures a later attempt can get past: no endpoint answered in time. */
function isTransient(error: unknown): boolean {
  return error instanceof UnavailableError || error instanceof DeadlineExceededError;
}

/**
 * The service's set now, then after every change to it. Lists the prefix,
 * then watches it from the listing's revision + 1 (the client's watch resumes
 * across reconnects without a gap); when that revision was compacted, or no
 * endpoint answers for a while, it lists again and carries on from there.
 * A snapshot is yielded only when the visible set differs from the last one.
 */
export async function* watchService(
  ctx: DiscoveryContext,
  service: string,
  options: DiscoveryOptions & { readonly signal: AbortSignal },
): AsyncGenerator<ServiceSnapshot, void, undefined> {
  const { signal } = options;
  const includeUnhealthy = options.includeUnhealthy === true;
  const prefix = servicePrefix(ctx.layout, service);
  let lastYielded: string | undefined;
  let failures = 0;
  while (!signal.aborted) {
    if (failures > 0) {
      const delayMs = backoffDelayMs(failures - 1, ctx.random, { baseMs: 100, maxMs: 2000 });
      if (!(await sleepUnlessAborted(delayMs, signal))) return;
    }
    let listing: Listing;
    try {
      listing = await list(ctx, prefix, signal);
    } catch (error) {
      if (signal.aborted || error instanceof ClientClosedError) return;
      if (!isTransient(error)) throw error;
      failures++;
      continue;
    }
    failures = 0;
    const { records } = listing;
    let revision = listing.revision;
    const first = snapshotOf(service, revision, records, includeUnhealthy);
    const firstPrint = fingerprint(first);
    if (firstPrint !== lastYielded) {
      lastYielded = firstPrint;
      yield first;
    }
    try {
      const stream = ctx.client.watch(prefix, {
        prefix: true,
        startRevision: revision + 1,
        signal,
      });
      for await (const batch of stream) {
        if (batch.events.length === 0) continue;
        for (const event of batch.events) {
          const key = bytesToString(event.kv.key);
          const instance =
            event.type.toLowerCase() === "delete" ? undefined : recordOf(ctx, event.kv);
          if (instance === undefined) records.delete(key);
          else records.set(key, instance);
        }
        revision = batch.revision;
        const next = snapshotOf(service, revision, records, includeUnhealthy);
        const print = fingerprint(next);
        if (print !== lastYielded) {
          lastYielded = print;
          yield next;
        }
      }
      // The stream ends only when stopped: the signal, or the client closed.
      return;
    } catch (error) {
      if (signal.aborted || error instanceof ClientClosedError) return;
      if (error instanceof CompactedError) continue;
      if (!isTransient(error)) throw error;
      failures++;
    }
  }
}

/** What a consumer sees of a snapshot, to tell a change from a rewrite of the same set. */
function fingerprint(snapshot: ServiceSnapshot): string {
  return JSON.stringify(snapshot.instances);
}

export interface ServiceSummary {
  readonly service: string;
  /** Every registered instance, critical ones included. */
  readonly instances: number;
  /** Passing or warning. */
  readonly served: number;
}

export async function listServices(
  ctx: DiscoveryContext,
  options: { readonly signal?: AbortSignal } = {},
): Promise<ServiceSummary[]> {
  const { records } = await list(ctx, allServicesPrefix(ctx.layout), options.signal);
  const byService = new Map<string, { instances: number; served: number }>();
  for (const instance of records.values()) {
    const entry = byService.get(instance.service) ?? { instances: 0, served: 0 };
    entry.instances++;
    if (isServed(instance)) entry.served++;
    byService.set(instance.service, entry);
  }
  return [...byService.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([service, counts]) => ({ service, ...counts }));
}
