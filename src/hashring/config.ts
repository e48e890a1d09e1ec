/**
 * restore(): rebuild a placement from its toJSON() configuration, given as an
 * object or a JSON string. Everything is validated first; any problem is an
 * InvalidConfigurationError whose message names the offending field.
 */
import { type BoundedLoadConfig, BoundedLoadPlacement } from "./bounded-loads.js";
import { HashringError, InvalidConfigurationError, InvalidOptionError } from "./errors.js";
import { JumpHash } from "./jump.js";
import { KetamaRing } from "./ketama.js";
import { type KeyJson, keyIdentity } from "./key-identity.js";
import { MaglevHash } from "./maglev.js";
import type { NodeSpec } from "./nodes.js";
import { RendezvousHash } from "./rendezvous.js";
import { VirtualNodeRing } from "./ring.js";
import {
  type AlgorithmName,
  CONFIG_FORMAT,
  type Placement,
  type PlacementConfig,
} from "./types.js";

type Json = Record<string, unknown>;

const ALGORITHM_FIELDS: Record<AlgorithmName | "bounded", readonly string[]> = {
  ring: ["pointsPerNode"],
  ketama: [],
  jump: [],
  rendezvous: [],
  maglev: ["tableSize", "autoSize"],
  bounded: ["eps", "pointsPerNode"],
};

function fail(message: string, cause?: unknown): never {
  throw new InvalidConfigurationError(
    `invalid hashring configuration: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parse(input: unknown): Json {
  let value = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (error) {
      fail(`not valid JSON (${(error as Error).message})`, error);
    }
  }
  if (!isObject(value)) fail("expected an object");
  if (value["format"] !== CONFIG_FORMAT) {
    fail(`format must be ${JSON.stringify(CONFIG_FORMAT)}, got ${JSON.stringify(value["format"])}`);
  }
  const algorithm = value["algorithm"];
  if (typeof algorithm !== "string" || !Object.hasOwn(ALGORITHM_FIELDS, algorithm)) {
    fail(
      `algorithm must be one of ${Object.keys(ALGORITHM_FIELDS).join(", ")}, got ${JSON.stringify(algorithm)}`,
    );
  }
  // Settings are required: a default filled in here could differ from the one
  // the configuration was written with, and silently remap keys.
  for (const field of ALGORITHM_FIELDS[algorithm as AlgorithmName]) {
    if (!Object.hasOwn(value, field)) {
      fail(`missing field ${JSON.stringify(field)} for algorithm ${algorithm}`);
    }
  }
  const allowed = new Set([
    "format",
    "algorithm",
    "nodes",
    ...ALGORITHM_FIELDS[algorithm as AlgorithmName],
  ]);
  for (const field of Object.keys(value)) {
    if (!allowed.has(field))
      fail(`unknown field ${JSON.stringify(field)} for algorithm ${algorithm}`);
  }
  return value;
}

function nodeList(config: Json, withKeys: boolean): Json[] {
  const nodes = config["nodes"];
  if (!Array.isArray(nodes)) fail("nodes must be an array");
  nodes.forEach((node, i) => {
    if (!isObject(node)) fail(`nodes[${i}] must be an object`);
    const allowed = withKeys ? ["id", "weight", "keys"] : ["id", "weight"];
    for (const field of Object.keys(node)) {
      if (!allowed.includes(field)) fail(`nodes[${i}] has unknown field ${JSON.stringify(field)}`);
    }
    if (typeof node["id"] !== "string" || node["id"] === "") {
      fail(`nodes[${i}].id must be a non-empty string`);
    }
    const weight = node["weight"];
    if (typeof weight !== "number" || !Number.isFinite(weight) || weight <= 0) {
      fail(`nodes[${i}].weight must be a finite number > 0, got ${JSON.stringify(weight)}`);
    }
  });
  return nodes as Json[];
}

function specs(nodes: Json[]): NodeSpec[] {
  return nodes.map((n) => ({ id: n["id"] as string, weight: n["weight"] as number }));
}

/** Runs a constructor, turning any hashring error into a configuration error. */
function build<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof HashringError && !(error instanceof InvalidConfigurationError)) {
      fail(error.message, error);
    }
    throw error;
  }
}

/** Rebuilds a ring, ketama, jump, rendezvous or maglev placement from toJSON(). */
export function restore(input: unknown): Placement {
  const config = parse(input);
  const algorithm = config["algorithm"] as AlgorithmName | "bounded";
  if (algorithm === "bounded") fail('algorithm "bounded" is restored with restoreBoundedLoads()');
  const nodes = specs(nodeList(config, false));
  switch (algorithm) {
    case "ring": {
      const pointsPerNode = config["pointsPerNode"];
      return build(() =>
        VirtualNodeRing.fromJSON({
          format: CONFIG_FORMAT,
          algorithm,
          pointsPerNode: pointsPerNode as number,
          nodes,
        }),
      );
    }
    case "ketama":
      return build(() => KetamaRing.fromJSON({ format: CONFIG_FORMAT, algorithm, nodes }));
    case "jump":
      return build(() => JumpHash.fromJSON({ format: CONFIG_FORMAT, algorithm, nodes }));
    case "rendezvous":
      return build(() => RendezvousHash.fromJSON({ format: CONFIG_FORMAT, algorithm, nodes }));
    case "maglev": {
      const tableSize = config["tableSize"];
      const autoSize = config["autoSize"];
      if (typeof autoSize !== "boolean") fail("autoSize must be a boolean");
      if (tableSize !== null && typeof tableSize !== "number")
        fail("tableSize must be a number or null");
      if (tableSize === null && !autoSize) fail("tableSize may be null only when autoSize is true");
      return build(() =>
        MaglevHash.fromJSON({ format: CONFIG_FORMAT, algorithm, tableSize, autoSize, nodes }),
      );
    }
  }
}

function keyJsonToIdentity(value: unknown, where: string): string {
  if (typeof value === "string") return keyIdentity(value);
  if (isObject(value) && Object.keys(value).length === 1 && typeof value["hex"] === "string") {
    const hex = value["hex"];
    if (!/^(?:[0-9a-f]{2})*$/.test(hex)) fail(`${where}.hex must be lowercase hex digit pairs`);
    return keyIdentity(new Uint8Array(Buffer.from(hex, "hex")));
  }
  return fail(`${where} must be a string or {"hex": "..."}`);
}

/** Rebuilds a bounded-load placement (nodes and where every key lives) from toJSON(). */
export function restoreBoundedLoads(input: unknown): BoundedLoadPlacement {
  const config = parse(input);
  if (config["algorithm"] !== "bounded") {
    fail(
      `expected algorithm "bounded", got ${JSON.stringify(config["algorithm"])} (use restore())`,
    );
  }
  const nodes = nodeList(config, true);
  const identities = nodes.map((node, i) => {
    const keys = node["keys"];
    if (!Array.isArray(keys)) fail(`nodes[${i}].keys must be an array`);
    return keys.map((key: unknown, k) => keyJsonToIdentity(key, `nodes[${i}].keys[${k}]`));
  });
  const typed: BoundedLoadConfig = {
    format: CONFIG_FORMAT,
    algorithm: "bounded",
    eps: config["eps"] as number,
    pointsPerNode: config["pointsPerNode"] as number,
    nodes: specs(nodes).map((spec) => ({ ...spec, keys: [] as KeyJson[] })),
  };
  return build(() => BoundedLoadPlacement.fromJSON(typed, identities));
}

/** Options for {@link createPlacement}: the algorithm, its settings and initial nodes. */
export type PlacementOptions = (
  | { readonly algorithm: "ring"; readonly pointsPerNode?: number }
  | { readonly algorithm: "ketama" }
  | { readonly algorithm: "jump" }
  | { readonly algorithm: "rendezvous" }
  | { readonly algorithm: "maglev"; readonly tableSize?: number }
) & { readonly nodes?: readonly (string | NodeSpec)[] };

/** Builds any of the stateless placements behind the one interface. */
export function createPlacement(options: PlacementOptions): Placement {
  let placement: Placement;
  switch (options.algorithm) {
    case "ring":
      placement =
        options.pointsPerNode === undefined
          ? new VirtualNodeRing()
          : new VirtualNodeRing({ pointsPerNode: options.pointsPerNode });
      break;
    case "ketama":
      placement = new KetamaRing();
      break;
    case "jump":
      placement = new JumpHash();
      break;
    case "rendezvous":
      placement = new RendezvousHash();
      break;
    case "maglev":
      placement =
        options.tableSize === undefined
          ? new MaglevHash()
          : new MaglevHash({ tableSize: options.tableSize });
      break;
    default:
      throw new InvalidOptionError(
        `unknown algorithm ${JSON.stringify((options as { algorithm: unknown }).algorithm)}`,
      );
  }
  for (const node of options.nodes ?? []) {
    if (typeof node === "string") placement.addNode(node);
    else placement.addNode(node.id, node.weight);
  }
  return placement;
}

export type { PlacementConfig };
