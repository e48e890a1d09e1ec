import type { NetworkFaults } from "./network.js";

/** Relative weights of the fault actions a profile injects while faults are on. */
export interface FaultWeights {
  readonly crash: number;
  /** Every running member at once (a power loss), all restarted a little later. */
  readonly crashAll: number;
  readonly restart: number;
  readonly partition: number;
  /** Cut the current leader off from everyone else. */
  readonly isolateLeader: number;
  readonly oneWay: number;
  readonly heal: number;
  readonly pause: number;
  readonly membership: number;
  readonly transfer: number;
}

export interface Profile {
  readonly name: string;
  readonly description: string;
  readonly nodes: readonly [number, number];
  readonly network: NetworkFaults;
  readonly faults: Partial<FaultWeights>;
  /** Mean time between fault actions, ms. */
  readonly faultEveryMs: number;
  readonly clockSkew: number;
  readonly diskDelayMs: readonly [number, number];
  readonly tornWrites: boolean;
  readonly snapshotEvery: number;
  readonly leaseReads: boolean;
  /** Leader steps down without a quorum (CheckQuorum) and pre-vote; both on unless a profile turns them off. */
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
}

const calmNet: NetworkFaults = { lossRate: 0, duplicateRate: 0, latencyMs: 1, jitterMs: 2 };

const base = {
  nodes: [3, 5] as const,
  network: calmNet,
  faults: {},
  faultEveryMs: 300,
  clockSkew: 0.02,
  diskDelayMs: [0, 0] as const,
  tornWrites: false,
  snapshotEvery: 0,
  leaseReads: false,
  checkQuorum: true,
  preVote: true,
};

export const PROFILES: readonly Profile[] = [
  { ...base, name: "calm", description: "no faults: a baseline for liveness and throughput" },
  {
    ...base,
    name: "lossy",
    description: "message loss, duplication, delay and reordering",
    network: { lossRate: 0.15, duplicateRate: 0.1, latencyMs: 1, jitterMs: 30 },
  },
  {
    ...base,
    name: "partitions",
    description: "symmetric and one-way partitions that come and go",
    faults: { partition: 3, isolateLeader: 3, oneWay: 2, heal: 4 },
    network: { lossRate: 0.02, duplicateRate: 0.02, latencyMs: 1, jitterMs: 10 },
  },
  {
    ...base,
    name: "bare",
    description:
      "partitions and crashes with CheckQuorum and pre-vote off: stale leaders live long, so reads must be confirmed",
    faults: { partition: 2, isolateLeader: 3, heal: 3, crash: 1, restart: 2 },
    checkQuorum: false,
    preVote: false,
  },
  {
    ...base,
    name: "crashes",
    description: "crashes losing unsynced writes, torn writes, slow disks, restarts, pauses",
    faults: { crash: 3, crashAll: 1, restart: 4, pause: 1 },
    diskDelayMs: [0, 15],
    tornWrites: true,
  },
  {
    ...base,
    name: "membership",
    description: "membership changes, leader transfers and snapshots mid-run, with some crashes",
    faults: { membership: 4, transfer: 3, crash: 1, restart: 2 },
    snapshotEvery: 12,
    diskDelayMs: [0, 5],
    tornWrites: true,
  },
  {
    ...base,
    name: "lease",
    description:
      "lease-based reads under partitions, pauses and clock skew within the assumed bound",
    faults: { partition: 2, isolateLeader: 2, oneWay: 2, heal: 4, pause: 2, transfer: 1 },
    clockSkew: 0.04,
    leaseReads: true,
  },
  {
    ...base,
    name: "chaos",
    description: "everything at once",
    faults: {
      crash: 2,
      crashAll: 1,
      restart: 3,
      partition: 2,
      isolateLeader: 1,
      oneWay: 1,
      heal: 2,
      pause: 1,
      membership: 2,
      transfer: 1,
    },
    network: { lossRate: 0.05, duplicateRate: 0.05, latencyMs: 1, jitterMs: 20 },
    clockSkew: 0.04,
    diskDelayMs: [0, 10],
    tornWrites: true,
    snapshotEvery: 20,
  },
];

export function profileByName(name: string): Profile | undefined {
  return PROFILES.find((p) => p.name === name);
}
