import { isIPv4, isIPv6 } from "node:net";
import type { Answer, Question } from "dns-packet";
import { isServed, type ServiceInstance } from "../instance.js";
import { addrName, isHostName, parseQueryName, type QueryTarget } from "./names.js";
import type { ServiceSource } from "./service-source.js";

/** The response codes this server gives (RFC 1035 4.1.1). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;
export type Rcode = (typeof RCODE)[keyof typeof RCODE];

/** One question's answer, before it is put in a packet (and maybe truncated). */
export interface DnsAnswer {
  readonly rcode: Rcode;
  /** Set for every name under the domain: this server is the authority for it. */
  readonly authoritative: boolean;
  readonly answers: Answer[];
  readonly authorities: Answer[];
  readonly additionals: Answer[];
}

export interface AnswerContext {
  /** Normalized (see normalizeDomain): lowercase, no trailing dot. */
  readonly domain: string;
  readonly ttlSeconds: number;
  readonly source: ServiceSource;
  /** Orders the records of an answer, so clients that take the first spread out. In [0, 1). */
  readonly random: () => number;
}

/** SOA timers (seconds); only `minimum` (negative caching) matters to clients. */
const SOA_REFRESH_S = 3600;
const SOA_RETRY_S = 600;
const SOA_EXPIRE_S = 86_400;

/**
 * Answers one question. Names outside the domain are REFUSED (no recursion);
 * names under it that do not exist are NXDOMAIN; names that exist without
 * records of the asked type get NOERROR with the zone's SOA in the authority
 * section (RFC 2308), so resolvers cache the absence for `ttlSeconds`.
 */
export async function answerQuestion(
  question: Question,
  context: AnswerContext,
): Promise<DnsAnswer> {
  if (question.class !== undefined && question.class !== "IN" && question.class !== "ANY") {
    return refused();
  }
  const target = parseQueryName(question.name, context.domain);
  switch (target.kind) {
    case "outside":
      return refused();
    case "nxdomain":
      return negative(RCODE.NXDOMAIN, context);
    case "empty":
      return question.type === "SOA" && isApex(question.name, context.domain)
        ? { ...authoritative(RCODE.NOERROR), answers: [soa(context)] }
        : negative(RCODE.NOERROR, context);
    case "addr":
      return addrAnswer(question, target, context);
    case "service":
      return serviceAnswer(question, target, context);
  }
}

function addrAnswer(
  question: Question,
  target: Extract<QueryTarget, { kind: "addr" }>,
  context: AnswerContext,
): DnsAnswer {
  const type = target.family === 4 ? "A" : "AAAA";
  const asked: string = question.type;
  if (asked !== type && asked !== "ANY") return negative(RCODE.NOERROR, context);
  return {
    ...authoritative(RCODE.NOERROR),
    answers: [{ type, name: question.name, ttl: context.ttlSeconds, data: target.address }],
  };
}

async function serviceAnswer(
  question: Question,
  target: Extract<QueryTarget, { kind: "service" }>,
  context: AnswerContext,
): Promise<DnsAnswer> {
  const snapshot = await context.source.instances(target.service);
  if (snapshot === undefined) return negative(RCODE.NXDOMAIN, context);
  const served = shuffled(snapshot.instances.filter(isServed), context.random);
  const ttl = context.ttlSeconds;
  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  // Off the wire the type may also be ANY or UNKNOWN_<n>, which the typings do not list.
  const asked: string = question.type;
  const wantsAddresses = !target.rfc2782 && ["A", "AAAA", "ANY"].includes(asked);
  if (wantsAddresses) {
    const seen = new Set<string>();
    for (const instance of served) {
      const type = addressType(instance.address);
      if (type === undefined || seen.has(instance.address)) continue;
      if (asked !== "ANY" && asked !== type) continue;
      seen.add(instance.address);
      answers.push({ type, name: question.name, ttl, data: instance.address });
    }
  }
  if (asked === "SRV") {
    const targets = new Set<string>();
    for (const instance of served) {
      const srvTarget = srvTargetOf(instance, context.domain);
      if (srvTarget === undefined) continue;
      answers.push({
        type: "SRV",
        name: question.name,
        ttl,
        data: { priority: 0, weight: instance.weight, port: instance.port, target: srvTarget },
      });
      const type = addressType(instance.address);
      if (type !== undefined && !targets.has(srvTarget)) {
        targets.add(srvTarget);
        additionals.push({ type, name: srvTarget, ttl, data: instance.address });
      }
    }
  }
  if (answers.length === 0) return negative(RCODE.NOERROR, context);
  return { ...authoritative(RCODE.NOERROR), answers, additionals };
}

/** An IP literal's record type; undefined for a host name (answered by SRV only). */
function addressType(address: string): "A" | "AAAA" | undefined {
  if (isIPv4(address)) return "A";
  if (isIPv6(address) && !address.includes("%")) return "AAAA";
  return undefined;
}

/** A host name as itself; an IP literal as its synthetic `<hex>.addr.<domain>` name. */
function srvTargetOf(instance: ServiceInstance, domain: string): string | undefined {
  if (addressType(instance.address) !== undefined) return addrName(instance.address, domain);
  return isHostName(instance.address) ? instance.address.replace(/\.$/, "") : undefined;
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function isApex(name: string, domain: string): boolean {
  return name.toLowerCase().replace(/\.$/, "") === domain;
}

function authoritative(rcode: Rcode): DnsAnswer {
  return { rcode, authoritative: true, answers: [], authorities: [], additionals: [] };
}

function refused(): DnsAnswer {
  return {
    rcode: RCODE.REFUSED,
    authoritative: false,
    answers: [],
    authorities: [],
    additionals: [],
  };
}

function negative(rcode: Rcode, context: AnswerContext): DnsAnswer {
  return { ...authoritative(rcode), authorities: [soa(context)] };
}

function soa(context: AnswerContext): Answer {
  return {
    type: "SOA",
    name: context.domain,
    ttl: context.ttlSeconds,
    data: {
      mname: `ns.${context.domain}`,
      rname: `hostmaster.${context.domain}`,
      serial: 1,
      refresh: SOA_REFRESH_S,
      retry: SOA_RETRY_S,
      expire: SOA_EXPIRE_S,
      minimum: context.ttlSeconds,
    },
  };
}
