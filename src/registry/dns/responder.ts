import * as dnsPacket from "dns-packet";
import { type AnswerContext, answerQuestion, type DnsAnswer, RCODE, type Rcode } from "./answer.js";

export type DnsTransportKind = "udp" | "tcp";

const HEADER_BYTES = 12;
const QR_BIT = 0x80; // in the header's third byte
/** Without EDNS a UDP answer holds at most this much (RFC 1035 4.2.1). */
const CLASSIC_UDP_BYTES = 512;
/**
 * The UDP payload this server advertises and never exceeds, whatever a client
 * offers: 1232 keeps an answer in one unfragmented IPv6 packet (DNS flag day 2020).
 */
export const MAX_UDP_PAYLOAD_BYTES = 1232;
/** A DNS message over TCP carries a 16-bit length. */
const MAX_TCP_MESSAGE_BYTES = 65_535;
const EXTENDED_RCODE_BADVERS = 1; // BADVERS (16) = this << 4
const OPCODE_SHIFT = 11;
const OPCODE_QUERY = 0;

export interface RespondHooks {
  /** A question whose lookup failed (answered SERVFAIL). */
  readonly onLookupError?: (error: unknown) => void;
}

/**
 * One query in, one answer out (or nothing, for a packet that is not a query
 * or is too short to answer). Never throws on what a client sends: what cannot
 * be parsed gets FORMERR, an opcode other than QUERY NOTIMP, a lookup that
 * fails SERVFAIL. Over UDP an answer larger than the client can take (512
 * bytes, or its EDNS size up to {@link MAX_UDP_PAYLOAD_BYTES}) loses its
 * additional records, then its trailing answers with TC set, so the client
 * asks again over TCP.
 */
export async function answerDnsMessage(
  message: Buffer,
  transport: DnsTransportKind,
  context: AnswerContext,
  hooks: RespondHooks = {},
): Promise<Buffer | undefined> {
  // An answer to an answer could loop between two servers; a runt has no id to answer.
  if (message.length < HEADER_BYTES || ((message[2] ?? 0) & QR_BIT) !== 0) return undefined;
  const id = message.readUInt16BE(0);
  const headerFlags = message.readUInt16BE(2);
  if (((headerFlags >> OPCODE_SHIFT) & 0xf) !== OPCODE_QUERY) {
    return bare(id, headerFlags, RCODE.NOTIMP);
  }
  let query: dnsPacket.DecodedPacket;
  try {
    query = dnsPacket.decode(message);
  } catch {
    return bare(id, headerFlags, RCODE.FORMERR);
  }
  const questions = query.questions ?? [];
  const question = questions[0];
  const opts = (query.additionals ?? []).filter((record) => record.type === "OPT");
  if (question === undefined || questions.length !== 1 || opts.length > 1) {
    return bare(id, headerFlags, RCODE.FORMERR);
  }
  const opt = opts[0] as dnsPacket.OptAnswer | undefined;
  if (opt !== undefined && opt.ednsVersion !== 0) {
    // RFC 6891 6.1.3: only version 0 exists; BADVERS tells the client to fall back.
    return encodeOrFormerr(
      {
        ...packetShell(id, headerFlags, RCODE.NOERROR, false),
        questions: [question],
        additionals: [optRecord(EXTENDED_RCODE_BADVERS)],
      },
      id,
      headerFlags,
    );
  }
  let answer: DnsAnswer;
  try {
    answer = await answerQuestion(question, context);
  } catch (error) {
    hooks.onLookupError?.(error);
    answer = {
      rcode: RCODE.SERVFAIL,
      authoritative: false,
      answers: [],
      authorities: [],
      additionals: [],
    };
  }
  const limitBytes =
    transport === "tcp"
      ? MAX_TCP_MESSAGE_BYTES
      : opt === undefined
        ? CLASSIC_UDP_BYTES
        : Math.min(Math.max(opt.udpPayloadSize, CLASSIC_UDP_BYTES), MAX_UDP_PAYLOAD_BYTES);
  const packet = withinLimit(
    {
      ...packetShell(id, headerFlags, answer.rcode, answer.authoritative),
      questions: [question],
      answers: answer.answers,
      authorities: answer.authorities,
      additionals: answer.additionals,
    },
    opt === undefined ? [] : [optRecord(0)],
    limitBytes,
  );
  return encodeOrFormerr(packet, id, headerFlags);
}

/**
 * The packet within `limitBytes`: additional records go first (that needs no
 * TC, RFC 2181 9), then answers from the end, with TC set. `trailer` (the OPT
 * record) always stays.
 */
function withinLimit(packet: dnsPacket.Packet, trailer: dnsPacket.Answer[], limitBytes: number) {
  const whole = { ...packet, additionals: [...(packet.additionals ?? []), ...trailer] };
  if (dnsPacket.encodingLength(whole) <= limitBytes) return whole;
  const lean = { ...packet, additionals: trailer };
  let bytes = dnsPacket.encodingLength(lean);
  if (bytes <= limitBytes) return lean;
  const answers = [...(packet.answers ?? [])];
  while (answers.length > 0 && bytes > limitBytes) {
    const last = answers.pop() as dnsPacket.Answer;
    bytes -= dnsPacket.encodingLength({ answers: [last] }) - HEADER_BYTES;
  }
  return {
    ...lean,
    flags: (lean.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE,
    answers,
    // Only a domain of absurd length makes a negative answer's SOA too large by itself.
    authorities: bytes <= limitBytes ? lean.authorities : [],
  };
}

function packetShell(id: number, queryFlags: number, rcode: Rcode, authoritative: boolean) {
  const opcode = queryFlags & (0xf << OPCODE_SHIFT);
  const recursionDesired = queryFlags & dnsPacket.RECURSION_DESIRED;
  // RA stays 0: this server never recurses.
  const flags =
    opcode | recursionDesired | (authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | rcode;
  return { type: "response" as const, id, flags };
}

/** An answer with no question: for what could not be parsed or is not a query. */
function bare(id: number, queryFlags: number, rcode: Rcode): Buffer {
  return dnsPacket.encode({ ...packetShell(id, queryFlags, rcode, false), questions: [] });
}

function encodeOrFormerr(packet: dnsPacket.Packet, id: number, queryFlags: number): Buffer {
  try {
    return dnsPacket.encode(packet);
  } catch {
    // A question name that decodes but does not encode back (bytes that are not text).
    return bare(id, queryFlags, RCODE.FORMERR);
  }
}

function optRecord(extendedRcode: number): dnsPacket.OptAnswer {
  return {
    type: "OPT",
    name: ".",
    udpPayloadSize: MAX_UDP_PAYLOAD_BYTES,
    extendedRcode,
    ednsVersion: 0,
    flags: 0,
    flag_do: false,
    options: [],
  };
}
