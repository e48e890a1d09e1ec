import {
  type JointVoters,
  jointCommitted,
  jointVoteResult,
  majorityCommitted,
  majorityVoteResult,
  VoteResult,
} from "../../../../../src/raft/core/quorum.js";
import type { NodeId } from "../../../../../src/raft/core/types.js";
import { Args, idList, parseIntStrict, showIndex } from "../args.js";
import type { GoldenCase, GoldenHandler } from "../datadriven.js";
import { GoldenFormatError } from "../datadriven.js";

/**
 * quorum-*.txt: `committed` and `vote` over a majority config (`cfg=`) or a
 * joint one (`cfg=` incoming, `out=` outgoing). Per-voter values come in
 * `idx=` / `votes=` either by position (voters of cfg, then those only in
 * out) or as `id=value`; `_` means no answer. Non-voters may be given by id.
 *
 * Every answer is also computed a second, naive way, and from both halves
 * swapped; a disagreement is printed, so it shows up in the golden diff.
 */
export function quorumHandler(): GoldenHandler {
  return (c: GoldenCase): string => {
    const args = new Args(c);
    const incoming = toIds(args.ints("cfg"), c);
    const outgoing = toIds(args.ints("out"), c);
    const joint = args.has("out");
    const order = [...incoming, ...outgoing.filter((id) => !incoming.includes(id))];
    let out: string;
    switch (c.command) {
      case "committed":
        out = committed(incoming, outgoing, joint, perVoter(args.list("idx"), order, c, toIndex));
        break;
      case "vote":
        out = vote(incoming, outgoing, joint, perVoter(args.list("votes"), order, c, toVote));
        break;
      default:
        throw new GoldenFormatError(`line ${c.line}: unknown command ${c.command}`);
    }
    args.done();
    return out;
  };
}

function toIds(values: (number | undefined)[], c: GoldenCase): NodeId[] {
  return values.map((v) => {
    if (v === undefined) throw new GoldenFormatError(`line ${c.line}: "_" is not a node id`);
    return v;
  });
}

function toIndex(text: string, fail: () => never): number {
  return parseIntStrict(text, fail);
}

function toVote(text: string, fail: () => never): boolean {
  if (text === "y") return true;
  if (text === "n") return false;
  return fail();
}

function perVoter<T>(
  values: readonly string[],
  order: readonly NodeId[],
  c: GoldenCase,
  parse: (text: string, fail: () => never) => T,
): Map<NodeId, T> {
  const result = new Map<NodeId, T>();
  const fail = (what: string): never => {
    throw new GoldenFormatError(`line ${c.line}: bad value ${what}`);
  };
  values.forEach((v, i) => {
    const eq = v.indexOf("=");
    const id = eq < 0 ? order[i] : parseIntStrict(v.slice(0, eq), () => fail(v));
    const text = eq < 0 ? v : v.slice(eq + 1);
    if (id === undefined) fail(`${v} (more values than voters)`);
    if (text !== "_")
      result.set(
        id!,
        parse(text, () => fail(v)),
      );
  });
  return result;
}

/** The largest index that at least a majority of `voters` has acked, found by trying each. */
function naiveCommitted(voters: readonly NodeId[], acked: ReadonlyMap<NodeId, number>): number {
  const set = new Set(voters);
  if (set.size === 0) return Number.MAX_SAFE_INTEGER;
  let best = 0;
  for (const candidate of new Set([0, ...acked.values()])) {
    let count = 0;
    for (const id of set) if ((acked.get(id) ?? 0) >= candidate) count++;
    if (count > set.size / 2 && candidate > best) best = candidate;
  }
  return best;
}

function committed(
  incoming: readonly NodeId[],
  outgoing: readonly NodeId[],
  joint: boolean,
  acked: ReadonlyMap<NodeId, number>,
): string {
  const lookup = (id: NodeId) => acked.get(id);
  const lines: string[] = [];
  const voters: JointVoters = { incoming: new Set(incoming), outgoing: new Set(outgoing) };
  const ids = [...new Set([...incoming, ...outgoing, ...acked.keys()])].sort((a, b) => a - b);
  for (const id of ids) {
    const member = [
      voters.incoming.has(id) ? "in" : "",
      voters.outgoing.has(id) ? "out" : "",
    ].filter((s) => s !== "");
    const role = member.length === 0 ? "non-voter" : member.join("+");
    lines.push(`${id}: ${acked.has(id) ? acked.get(id) : "_"} (${role})`);
  }
  let result: number;
  if (joint) {
    result = jointCommitted(voters, lookup);
    const swapped = jointCommitted(
      { incoming: voters.outgoing, outgoing: voters.incoming },
      lookup,
    );
    lines.push(`incoming=${showIndex(majorityCommitted(voters.incoming, lookup))}`);
    lines.push(`outgoing=${showIndex(majorityCommitted(voters.outgoing, lookup))}`);
    if (swapped !== result) lines.push(`MISMATCH: halves swapped give ${showIndex(swapped)}`);
    const naive = Math.min(naiveCommitted(incoming, acked), naiveCommitted(outgoing, acked));
    if (naive !== result) lines.push(`MISMATCH: naive count gives ${showIndex(naive)}`);
  } else {
    result = majorityCommitted(voters.incoming, lookup);
    const viaJoint = jointCommitted({ incoming: voters.incoming, outgoing: new Set() }, lookup);
    if (viaJoint !== result)
      lines.push(`MISMATCH: as joint with empty half ${showIndex(viaJoint)}`);
    const naive = naiveCommitted(incoming, acked);
    if (naive !== result) lines.push(`MISMATCH: naive count gives ${showIndex(naive)}`);
  }
  lines.push(`committed=${showIndex(result)}`);
  return lines.join("\n");
}

function naiveVote(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const set = new Set(voters);
  if (set.size === 0) return VoteResult.Won;
  let yes = 0;
  let no = 0;
  for (const id of set) {
    const v = votes.get(id);
    if (v === true) yes++;
    if (v === false) no++;
  }
  if (yes > set.size / 2) return VoteResult.Won;
  if (no >= set.size / 2) return VoteResult.Lost;
  return VoteResult.Pending;
}

function vote(
  incoming: readonly NodeId[],
  outgoing: readonly NodeId[],
  joint: boolean,
  votes: ReadonlyMap<NodeId, boolean>,
): string {
  const voters: JointVoters = { incoming: new Set(incoming), outgoing: new Set(outgoing) };
  const granted = [...votes].filter(([, v]) => v).map(([id]) => id);
  const rejected = [...votes].filter(([, v]) => !v).map(([id]) => id);
  const lines = [`granted=${idList(granted)} rejected=${idList(rejected)}`];
  let result: VoteResult;
  if (joint) {
    result = jointVoteResult(voters, votes);
    const a = majorityVoteResult(voters.incoming, votes);
    const b = majorityVoteResult(voters.outgoing, votes);
    lines.push(`incoming=${a} outgoing=${b}`);
    const swapped = jointVoteResult(
      { incoming: voters.outgoing, outgoing: voters.incoming },
      votes,
    );
    if (swapped !== result) lines.push(`MISMATCH: halves swapped give ${swapped}`);
    const na = naiveVote(incoming, votes);
    const nb = naiveVote(outgoing, votes);
    const naive =
      na === VoteResult.Lost || nb === VoteResult.Lost
        ? VoteResult.Lost
        : na === VoteResult.Won && nb === VoteResult.Won
          ? VoteResult.Won
          : VoteResult.Pending;
    if (naive !== result) lines.push(`MISMATCH: naive count gives ${naive}`);
  } else {
    result = majorityVoteResult(voters.incoming, votes);
    const viaJoint = jointVoteResult({ incoming: voters.incoming, outgoing: new Set() }, votes);
    if (viaJoint !== result) lines.push(`MISMATCH: as joint with empty half ${viaJoint}`);
    const naive = naiveVote(incoming, votes);
    if (naive !== result) lines.push(`MISMATCH: naive count gives ${naive}`);
  }
  lines.push(`result=${result}`);
  return lines.join("\n");
}
