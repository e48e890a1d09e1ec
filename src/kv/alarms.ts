import { InvalidKvCommandError, NoSpaceError } from "./errors.js";
import { writeCostBytes } from "./quota.js";
import type { AlarmCommand, AlarmMember, AlarmType, KvCommand } from "./types.js";

export const ALARM_TYPES: readonly AlarmType[] = ["NOSPACE", "CORRUPT"];

/** The wire form inside a snapshot: [memberId, alarm]. */
export type AlarmWire = [number, AlarmType];

function alarmKey(memberId: number, alarm: AlarmType): string {
  return `${memberId}/${alarm}`;
}

/**
 * The raised alarms, per member and kind, as applied from the log (etcd's
 * alarm store). Every replica holds the same table, so every replica refuses
 * the same commands at the same log position.
 *
 * NOSPACE refuses what takes space: puts, txns with a put in either branch
 * and lease grants. CORRUPT is kept and listed; nothing raises it yet and it
 * refuses nothing (etcd refuses every request while it is raised, once a
 * corruption check exists to raise it).
 */
export class AlarmTable {
  readonly #raised = new Map<string, AlarmMember>();
  #noSpaceCount = 0;

  /** Applies a validated alarm command; see AlarmResult for what comes back. */
  apply(command: AlarmCommand): AlarmMember[] {
    if (command.action === "get") return this.list(command.alarm);
    const { memberId, alarm } = command;
    if (memberId === undefined || alarm === undefined) {
      // validateCommand guarantees both for activate and deactivate.
      throw new InvalidKvCommandError(`alarm ${command.action} needs memberId and alarm`);
    }
    const key = alarmKey(memberId, alarm);
    const present = this.#raised.get(key);
    if (command.action === "activate") {
      if (present !== undefined) return [];
      const raised = { memberId, alarm };
      this.#raised.set(key, raised);
      if (alarm === "NOSPACE") this.#noSpaceCount++;
      return [raised];
    }
    if (present === undefined) return [];
    this.#raised.delete(key);
    if (alarm === "NOSPACE") this.#noSpaceCount--;
    return [present];
  }

  /** Raised alarms of one kind (all kinds when absent), by member id then kind. */
  list(alarm?: AlarmType): AlarmMember[] {
    return [...this.#raised.values()]
      .filter((a) => alarm === undefined || a.alarm === alarm)
      .sort((a, b) => a.memberId - b.memberId || (a.alarm < b.alarm ? -1 : 1));
  }

  /** Whether any member has raised this kind of alarm. */
  has(alarm: AlarmType): boolean {
    return alarm === "NOSPACE" ? this.#noSpaceCount > 0 : this.list(alarm).length > 0;
  }

  /**
   * Throws NoSpaceError when NOSPACE is raised and `command` takes space. A
   * request envelope is let through: its command is checked when it runs, so
   * a retry whose first result is remembered is still answered.
   */
  check(command: KvCommand): void {
    if (this.#noSpaceCount === 0 || command.type === "request") return;
    if (writeCostBytes(command) > 0) throw new NoSpaceError("a NOSPACE alarm is raised");
  }

  toWire(): AlarmWire[] {
    return this.list().map((a) => [a.memberId, a.alarm]);
  }

  /** Replaces the table with a snapshot's; absent (an older snapshot) means none raised. */
  restore(wire: readonly AlarmWire[] | undefined): void {
    this.#raised.clear();
    this.#noSpaceCount = 0;
    for (const [memberId, alarm] of wire ?? []) {
      this.apply({ type: "alarm", action: "activate", memberId, alarm });
    }
  }
}

/** Validates a snapshot header's optional alarms field. */
export function parseAlarmWire(value: unknown): AlarmWire[] | undefined {
  if (value === undefined) return undefined;
  const fail = (): never => {
    throw new InvalidKvCommandError("kv snapshot is corrupt: alarms");
  };
  if (!Array.isArray(value)) fail();
  return (value as unknown[]).map((entry): AlarmWire => {
    if (!Array.isArray(entry) || entry.length !== 2) return fail();
    const [memberId, alarm] = entry as unknown[];
    if (typeof memberId !== "number" || !Number.isSafeInteger(memberId) || memberId <= 0) {
      return fail();
    }
    if (!ALARM_TYPES.includes(alarm as AlarmType)) return fail();
    return [memberId, alarm as AlarmType];
  });
}
