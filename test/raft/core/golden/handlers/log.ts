import { RaftLog } from "../../../../../src/raft/core/log.js";
import { MemoryStorage } from "../../../../../src/raft/storage/memory.js";
import { Args } from "../args.js";
import type { GoldenCase, GoldenHandler } from "../datadriven.js";
import { GoldenFormatError } from "../datadriven.js";
import { makeEntries, makeSnapshot, showEntries, showSnapshot } from "./format.js";

const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * log-*.txt: the RaftLog over an in-memory storage. Entries are `index/term`;
 * `size=N` gives each new entry N payload bytes (every entry also counts 24
 * bytes of header, see entrySize).
 *
 *   init [snapshot=N snapshot-term=N] [terms=(t,...)] [size=N]   stable storage, then a fresh log
 *   append index=N terms=(...) | maybe-append index=N term=N [commit=N] [terms=(...)]
 *   commit-to index=N | maybe-commit index=N term=N | applied-to index=N
 *   restore index=N term=N               an incoming snapshot (unstable)
 *   persist [to=N]                       write the unstable part to storage and mark it stable
 *   stable-to index=N term=N | compact index=N
 *   term index=(...) | match-term index=N term=N | find-conflict index=N terms=(...)
 *   find-conflict-by-term index=N term=N | up-to-date index=N term=N
 *   slice lo=N hi=N [max-bytes=N] | entries from=N [max-bytes=N] | next-committed [max-bytes=N]
 *
 * Queries print their answer; the other commands print the log's state.
 */
export function logHandler(): GoldenHandler {
  let storage = new MemoryStorage();
  let log = new RaftLog(storage);
  return (c: GoldenCase): string => {
    const args = new Args(c);
    const size = args.intOr("size", 0);
    let answer: string | undefined;
    let query = false;
    switch (c.command) {
      case "init": {
        storage = new MemoryStorage();
        const snapIndex = args.intOr("snapshot", 0);
        const snapTerm = args.intOr("snapshot-term", 0);
        if (snapIndex > 0) storage.applySnapshot(makeSnapshot(snapIndex, snapTerm));
        storage.append(makeEntries(snapIndex + 1, args.ints("terms"), size));
        log = new RaftLog(storage);
        break;
      }
      case "append":
        answer = `last=${log.append(makeEntries(args.int("index"), args.ints("terms"), size))}`;
        break;
      case "maybe-append": {
        const index = args.int("index");
        const last = log.maybeAppend(
          index,
          args.int("term"),
          args.intOr("commit", 0),
          makeEntries(index + 1, args.ints("terms"), size),
        );
        answer = last === undefined ? "rejected" : `last-new=${last}`;
        break;
      }
      case "commit-to":
        log.commitTo(args.int("index"));
        break;
      case "maybe-commit":
        answer = `committed=${log.maybeCommit(args.int("index"), args.int("term"))}`;
        break;
      case "applied-to":
        log.appliedTo(args.int("index"));
        break;
      case "restore":
        log.restore(makeSnapshot(args.int("index"), args.int("term")));
        break;
      case "persist":
        persist(args.intOr("to", undefined));
        break;
      case "stable-to":
        log.stableTo(args.int("index"), args.int("term"));
        break;
      case "compact":
        storage.compact(args.int("index"));
        break;
      case "show":
        break;
      default:
        query = true;
        answer = runQuery(log, c, args);
    }
    args.done();
    if (query) return answer ?? "";
    return answer === undefined ? showLog(log, storage) : `${answer}\n${showLog(log, storage)}`;
  };

  /** What the node does with a Ready: snapshot first, then entries, then tell the log. */
  function persist(to: number | undefined): void {
    const snap = log.unstable.snapshot;
    if (snap !== undefined) {
      storage.applySnapshot(snap);
      log.stableSnapTo(snap.metadata.index);
    }
    const entries = log.unstableEntries().filter((e) => to === undefined || e.index <= to);
    const last = entries[entries.length - 1];
    if (last === undefined) return;
    storage.append(entries);
    log.stableTo(last.index, last.term);
  }
}

function runQuery(log: RaftLog, c: GoldenCase, args: Args): string {
  const maxBytes = () => args.intOr("max-bytes", NO_LIMIT);
  switch (c.command) {
    case "term":
      return args
        .ints("index")
        .map((i) => `${i}: ${termOrError(log, i ?? 0)}`)
        .join("\n");
    case "match-term":
      return `match=${log.matchTerm(args.int("index"), args.int("term"))}`;
    case "find-conflict": {
      const entries = makeEntries(args.int("index"), args.ints("terms"));
      return `conflict=${log.findConflict(entries)}`;
    }
    case "find-conflict-by-term": {
      const r = log.findConflictByTerm(args.int("index"), args.int("term"));
      return `index=${r.index} term=${r.term}`;
    }
    case "up-to-date":
      return `up-to-date=${log.isUpToDate(args.int("index"), args.int("term"))}`;
    case "slice":
      return showEntries(log.slice(args.int("lo"), args.int("hi"), maxBytes()));
    case "entries":
      return showEntries(log.entries(args.int("from"), maxBytes()));
    case "next-committed": {
      const has = log.hasNextCommittedEntries();
      return `has=${has} entries: ${showEntries(log.nextCommittedEntries(maxBytes()))}`;
    }
    default:
      throw new GoldenFormatError(`line ${c.line}: unknown command ${c.command}`);
  }
}

function termOrError(log: RaftLog, index: number): string {
  try {
    return String(log.term(index));
  } catch (err) {
    if (err instanceof Error && "code" in err) return `error ${String(err.code)}`;
    throw err;
  }
}

function showLog(log: RaftLog, storage: MemoryStorage): string {
  const first = storage.firstIndex();
  const stored = storage.entries(first, storage.lastIndex() + 1, NO_LIMIT);
  const u = log.unstable;
  return [
    `first=${log.firstIndex()} last=${log.lastIndex()} committed=${log.committed} applied=${log.applied}`,
    `stable: snapshot=${showSnapshot(storage.snapshot())} entries: ${showEntries(first > storage.lastIndex() ? [] : stored)}`,
    `unstable: offset=${u.offset} snapshot=${showSnapshot(u.snapshot)} entries: ${showEntries(u.entries)}`,
  ].join("\n");
}
