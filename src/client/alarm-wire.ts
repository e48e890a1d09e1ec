import { BadResponseError } from "./errors.js";
import { asArray, asInt, asObject, asString, type Json } from "./json-read.js";

/** NOSPACE: writes that take space are refused cluster-wide. CORRUPT: reserved, as in etcd. */
export type AlarmType = "NOSPACE" | "CORRUPT";

/** One raised alarm: the member that raised it and its kind. */
export interface Alarm {
  readonly memberId: number;
  readonly alarm: AlarmType;
}

const ALARM_TYPES: readonly string[] = ["NOSPACE", "CORRUPT"];

/** The alarms of a /v3/maintenance/alarm answer. */
export function alarmsResult(value: unknown, what = "alarm"): Alarm[] {
  const o = asObject(value, what);
  return asArray(o["alarms"], `${what}.alarms`).map((entry, i) => {
    const a = asObject(entry, `${what}.alarms[${i}]`);
    const alarm = asString(a["alarm"], `${what}.alarms[${i}].alarm`);
    if (!ALARM_TYPES.includes(alarm)) {
      throw new BadResponseError(`${what}.alarms[${i}].alarm is not a known alarm: ${alarm}`);
    }
    return {
      memberId: asInt(a["memberID"], `${what}.alarms[${i}].memberID`),
      alarm: alarm as AlarmType,
    };
  });
}

export function alarmJson(action: "GET" | "DEACTIVATE", alarm?: Partial<Alarm>): Json {
  return {
    action,
    ...(alarm?.memberId !== undefined && { memberID: alarm.memberId }),
    ...(alarm?.alarm !== undefined && { alarm: alarm.alarm }),
  };
}
