import { type ChannelOptions, connectivityState, experimental } from "@grpc/grpc-js";
import {
  createPlacement,
  DEFAULT_POINTS_PER_NODE,
  MAX_POINTS_PER_NODE,
  type Placement,
} from "../../hashring/index.js";
import { instancesFromOptions } from "./endpoints.js";
import { CONCLAVE_HASH_POLICY, ConclaveHashConfig, type HashAlgorithm } from "./hash-config.js";
import { HashPicker, type RoundRobinCursor } from "./hash-picker.js";

// The ring gives a node pointsPerNode x weight points and refuses more than
// MAX_POINTS_PER_NODE; heavier weights are capped there (about 1000x the
// lightest), which the registry's 1..10000 weights can exceed.
const MAX_RING_WEIGHT = Math.floor(MAX_POINTS_PER_NODE / DEFAULT_POINTS_PER_NODE);

function placementWeight(algorithm: HashAlgorithm, weight: number): number {
  return algorithm === "ring" ? Math.min(weight, MAX_RING_WEIGHT) : weight;
}

interface Child {
  readonly leaf: experimental.LeafLoadBalancer;
  weight: number;
}

/**
 * The `conclave_hash` policy: one child per endpoint (grpc-js's leaf
 * pick-first balancer, which owns the endpoint's subchannel and reconnects
 * it), consistent hashing of a metadata value over the endpoints, and round
 * robin for calls without the value. Address updates are incremental: kept
 * endpoints keep their connections and their place in the hash.
 *
 * Node ids in the placement are `endpointToString(endpoint)`; an endpoint's
 * weight comes from the instance the conclave resolver attached for its
 * first address (1 with any other resolver).
 */
export class ConclaveHashBalancer implements experimental.LoadBalancer {
  private readonly children = new Map<string, Child>();
  private placement: Placement | null = null;
  private config: ConclaveHashConfig | null = null;
  private readonly childHelper: experimental.ChannelControlHelper;
  private readonly cursor: RoundRobinCursor = { next: 0 };
  private currentState = connectivityState.IDLE;
  private updatesPaused = false;
  private lastError: string | null = null;
  private destroyed = false;

  constructor(private readonly helper: experimental.ChannelControlHelper) {
    this.childHelper = experimental.createChildChannelControlHelper(helper, {
      updateState: (_state, _picker, errorMessage) => {
        if (errorMessage) this.lastError = errorMessage;
        this.publish();
      },
    });
  }

  updateAddressList(
    endpointList: experimental.StatusOr<experimental.Endpoint[]>,
    lbConfig: experimental.TypedLoadBalancingConfig,
    options: ChannelOptions,
    resolutionNote: string,
  ): boolean {
    if (!(lbConfig instanceof ConclaveHashConfig)) return false;
    if (!endpointList.ok) {
      // Keep serving the last known endpoints; fail calls only when there are none.
      if (this.children.size === 0) {
        this.setState(
          connectivityState.TRANSIENT_FAILURE,
          new experimental.UnavailablePicker(endpointList.error),
          endpointList.error.details,
        );
      }
      return true;
    }
    const algorithmChanged = this.config?.algorithm !== lbConfig.algorithm;
    this.config = lbConfig;
    const instances = instancesFromOptions(options);
    const wanted = new Map<string, { endpoint: experimental.Endpoint; weight: number }>();
    for (const endpoint of endpointList.value) {
      const first = endpoint.addresses[0];
      if (first === undefined) continue;
      const id = experimental.endpointToString(endpoint);
      const weight = instances?.get(experimental.subchannelAddressToString(first))?.weight ?? 1;
      if (!wanted.has(id)) wanted.set(id, { endpoint, weight });
    }

    this.updatesPaused = true;
    if (algorithmChanged || this.placement === null) {
      this.placement = createPlacement({ algorithm: lbConfig.algorithm });
      for (const [id, child] of this.children) {
        this.placement.addNode(id, placementWeight(lbConfig.algorithm, child.weight));
      }
    }
    const placement = this.placement;
    for (const [id, child] of this.children) {
      if (wanted.has(id)) continue;
      child.leaf.destroy();
      this.children.delete(id);
      placement.removeNode(id);
    }
    for (const [id, { endpoint, weight }] of wanted) {
      const existing = this.children.get(id);
      if (existing !== undefined) {
        if (existing.weight !== weight) {
          existing.weight = weight;
          placement.removeNode(id);
          placement.addNode(id, placementWeight(lbConfig.algorithm, weight));
        }
        continue;
      }
      const leaf = new experimental.LeafLoadBalancer(
        endpoint,
        this.childHelper,
        options,
        resolutionNote,
      );
      this.children.set(id, { leaf, weight });
      placement.addNode(id, placementWeight(lbConfig.algorithm, weight));
      leaf.startConnecting();
    }
    this.updatesPaused = false;

    if (this.children.size === 0) {
      const message = `${CONCLAVE_HASH_POLICY}: no addresses resolved (${resolutionNote})`;
      this.lastError = message;
      this.setState(
        connectivityState.TRANSIENT_FAILURE,
        new experimental.UnavailablePicker({ details: message }),
        message,
      );
      return true;
    }
    this.publish();
    return true;
  }

  exitIdle(): void {
    for (const child of this.children.values()) {
      if (child.leaf.getConnectivityState() === connectivityState.IDLE) child.leaf.exitIdle();
    }
  }

  resetBackoff(): void {
    // The leaves' subchannels own their backoff; nothing is held here.
  }

  destroy(): void {
    this.destroyed = true;
    for (const child of this.children.values()) child.leaf.destroy();
    this.children.clear();
    this.placement = null;
  }

  getTypeName(): string {
    return CONCLAVE_HASH_POLICY;
  }

  /** Aggregates the children's states into one, as round_robin does, and publishes a picker. */
  private publish(): void {
    if (this.updatesPaused || this.destroyed || this.config === null) return;
    const ready = new Map<string, experimental.Picker>();
    let connecting = 0;
    let failing = 0;
    for (const [id, child] of this.children) {
      const state = child.leaf.getConnectivityState();
      if (state === connectivityState.READY) ready.set(id, child.leaf.getPicker());
      else if (state === connectivityState.CONNECTING) connecting++;
      else if (state === connectivityState.TRANSIENT_FAILURE) failing++;
    }
    if (ready.size > 0 && this.placement !== null) {
      this.setState(
        connectivityState.READY,
        new HashPicker(this.placement, ready, this.config.metadataKey, this.cursor),
        null,
      );
    } else if (connecting > 0) {
      this.setState(connectivityState.CONNECTING, new experimental.QueuePicker(this), null);
    } else if (failing > 0) {
      const message = `${CONCLAVE_HASH_POLICY}: no connection established; last error: ${this.lastError}`;
      this.setState(
        connectivityState.TRANSIENT_FAILURE,
        new experimental.UnavailablePicker({ details: message }),
        message,
      );
    } else {
      this.setState(connectivityState.IDLE, new experimental.QueuePicker(this), null);
    }
    // Every endpoint stays connected, so a key's next owner is ready when its owner fails.
    this.exitIdle();
  }

  private setState(
    state: connectivityState,
    picker: experimental.Picker,
    errorMessage: string | null,
  ): void {
    // Connections that drop are a hint the set may have changed (round_robin does the same).
    if (this.currentState === connectivityState.READY && state !== connectivityState.READY) {
      this.helper.requestReresolution();
    }
    this.currentState = state;
    this.helper.updateState(state, picker, errorMessage);
  }
}

/** Registers `conclave_hash` with grpc-js (idempotent: registering again replaces it with itself). */
export function registerConclaveHashPolicy(): void {
  experimental.registerLoadBalancerType(
    CONCLAVE_HASH_POLICY,
    ConclaveHashBalancer,
    ConclaveHashConfig,
  );
}
