/**
 * Phase (b): a flood of connections to every member's client and peer ports
 * that send a few bytes and then nothing, held for a while, bounded in count
 * and time. The leader must stay in place and writes keep succeeding.
 */
import net from "node:net";
import type { ConclaveClient } from "../../src/client/index.js";
import type { AdversaryOptions } from "./options.js";
import { percentile } from "./samplers.js";

export interface FloodPhaseResult {
  readonly attempted: number;
  readonly opened: number;
  readonly refused: number;
  readonly putsOk: number;
  readonly putsFailed: number;
  readonly putP50Ms: number;
  readonly putP99Ms: number;
  readonly leaderBefore: number | null;
  readonly leaderAfter: number | null;
  /** Distinct leaders (or none) the members reported during the flood. */
  readonly leadersSeen: (number | null)[];
  readonly leaderStayed: boolean;
}

export interface FloodTarget {
  readonly clientUrls: readonly string[];
  /** host:port of each member's peer listener. */
  readonly peerAddresses: readonly string[];
}

const CONNECT_TIMEOUT_MS = 5_000;

export async function leaderOf(urls: readonly string[]): Promise<number | null> {
  for (const url of urls) {
    try {
      const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(5_000) });
      const body = (await res.json()) as { leader: number | null };
      if (body.leader !== null) return body.leader;
    } catch {
      // Ask the next member.
    }
  }
  return null;
}

/** Opens one connection that sends `greeting` and then holds still; null when refused or slow. */
function hold(host: string, port: number, greeting: string): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(null);
    }, CONNECT_TIMEOUT_MS);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.write(greeting);
      // The member may close it; that is its defence working, not an error here.
      socket.on("error", () => undefined);
      resolve(socket);
    });
    socket.once("error", () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

export async function runFloodPhase(
  target: FloodTarget,
  client: ConclaveClient,
  options: AdversaryOptions,
): Promise<FloodPhaseResult> {
  const leaderBefore = await leaderOf(target.clientUrls);
  const ends = [
    ...target.clientUrls.map((u) => {
      const url = new URL(u);
      return {
        host: url.hostname,
        port: Number(url.port),
        greeting: "POST /v3/kv/put HTTP/1.1\r\nhost: x\r\n",
      };
    }),
    ...target.peerAddresses.map((a) => {
      const i = a.lastIndexOf(":");
      return { host: a.slice(0, i), port: Number(a.slice(i + 1)), greeting: "\u0000\u0000" };
    }),
  ];
  const sockets: net.Socket[] = [];
  let refused = 0;
  const deadline = performance.now() + options.floodMs;
  const leadersSeen = new Set<number | null>([leaderBefore]);
  const latencies: number[] = [];
  let putsOk = 0;
  let putsFailed = 0;
  try {
    // The flood opens in batches while writes and leader checks run beside it.
    const flooding = (async () => {
      for (let i = 0; i < options.floodConnections && performance.now() < deadline; i += 50) {
        const batch = Array.from({ length: Math.min(50, options.floodConnections - i) }, (_, j) => {
          const end = ends[(i + j) % ends.length]!;
          return hold(end.host, end.port, end.greeting);
        });
        for (const s of await Promise.all(batch)) {
          if (s === null) refused++;
          else sockets.push(s);
        }
      }
    })();
    const writing = (async () => {
      for (let i = 0; performance.now() < deadline; i++) {
        const started = performance.now();
        try {
          await client.put(`flood/${i % 100}`, "v");
          putsOk++;
          latencies.push(performance.now() - started);
        } catch {
          putsFailed++;
        }
      }
    })();
    const watchingLeader = (async () => {
      while (performance.now() < deadline) {
        leadersSeen.add(await leaderOf(target.clientUrls));
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    await Promise.all([flooding, writing, watchingLeader]);
  } finally {
    for (const s of sockets) s.destroy();
  }
  const leaderAfter = await leaderOf(target.clientUrls);
  leadersSeen.add(leaderAfter);
  const sorted = latencies.sort((a, b) => a - b);
  return {
    attempted: sockets.length + refused,
    opened: sockets.length,
    refused,
    putsOk,
    putsFailed,
    putP50Ms: percentile(sorted, 50),
    putP99Ms: percentile(sorted, 99),
    leaderBefore,
    leaderAfter,
    leadersSeen: [...leadersSeen],
    leaderStayed: leadersSeen.size === 1 && leaderBefore !== null,
  };
}
