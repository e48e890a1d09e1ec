import type { FastifyInstance } from "fastify";
import { VirtualNodeRing } from "../hashring/index.js";
import { listMembers } from "./cluster-routes.js";
import type { KvAccess } from "./kv-access.js";

/** Keys one lookup places; a dashboard asks for a few. */
export const MAX_RING_LOOKUP_KEYS = 64;
/** Points per member the answer lists: enough to draw, few enough to send. */
export const MAX_RING_POINTS_PER_MEMBER = 256;
const DEFAULT_POINTS_PER_MEMBER = 32;

export interface RingLookupJson {
  keys?: string[];
  points_per_member?: number;
}

const lookupBody = {
  type: ["object", "null"],
  properties: {
    keys: {
      type: "array",
      maxItems: MAX_RING_LOOKUP_KEYS,
      items: { type: "string", minLength: 1, maxLength: 1024 },
    },
    points_per_member: { type: "integer", minimum: 1, maximum: MAX_RING_POINTS_PER_MEMBER },
  },
  additionalProperties: false,
} as const;

/**
 * `POST /v3/ring/lookup`: the cluster's members placed on a consistent-hash
 * ring (conclave/hashring's virtual-node ring, each member named by its
 * name, or its id while it has none) and the owner of each given key. It
 * shows how a client that shards by member would spread keys, and which
 * keys would move were a member to leave.
 */
export function registerRingRoutes(app: FastifyInstance, kv: KvAccess): void {
  app.post<{ Body: RingLookupJson | null }>(
    "/v3/ring/lookup",
    {
      schema: {
        summary: "Members on a consistent-hash ring and the owners of given keys",
        body: lookupBody,
      },
    },
    async (req) => {
      const body = req.body ?? {};
      const pointsPerMember = body.points_per_member ?? DEFAULT_POINTS_PER_MEMBER;
      const members = listMembers(kv).map((m) => ({
        id: m.ID,
        name: m.name === "" ? m.ID : m.name,
        isLearner: m.isLearner,
      }));
      const ring = new VirtualNodeRing({ pointsPerNode: pointsPerMember });
      // Two members can share a name only by misconfiguration; the ring takes each once.
      const names = [...new Set(members.map((m) => m.name))];
      for (const name of names) ring.addNode(name);
      const circle = ring.circle();
      const pointsOf = new Map<string, number[]>(names.map((n) => [n, []]));
      for (let i = 0; i < circle.positions.length; i++) {
        pointsOf.get(circle.ids[circle.owners[i]!]!)!.push(circle.positions[i]!);
      }
      return {
        points_per_member: pointsPerMember,
        members: members.map((m) => ({ ...m, points: pointsOf.get(m.name) ?? [] })),
        keys: (body.keys ?? []).map((key) => ({
          key,
          position: ring.positionOf(key),
          owner: names.length === 0 ? null : ring.get(key),
        })),
      };
    },
  );
}
