import { bytesToString } from "./bytes.js";
import { asBytes, asInt, asObject } from "./json-read.js";

/** A key's state at one revision. Key and value are bytes; the getters decode them as UTF-8. */
export class KeyValue {
  constructor(
    readonly key: Uint8Array,
    readonly value: Uint8Array,
    readonly createRevision: number,
    readonly modRevision: number,
    /** Writes since creation; 0 in a delete event. */
    readonly version: number,
    /** 0 when no lease is attached. */
    readonly lease: number,
  ) {}

  get keyString(): string {
    return bytesToString(this.key);
  }

  get valueString(): string {
    return bytesToString(this.value);
  }

  static fromJson(value: unknown, what: string): KeyValue {
    const o = asObject(value, what);
    return new KeyValue(
      asBytes(o["key"], `${what}.key`),
      asBytes(o["value"], `${what}.value`),
      asInt(o["create_revision"], `${what}.create_revision`),
      asInt(o["mod_revision"], `${what}.mod_revision`),
      asInt(o["version"], `${what}.version`),
      asInt(o["lease"], `${what}.lease`),
    );
  }
}
