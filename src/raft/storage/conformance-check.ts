import type { NodeStorage } from "./node-storage.js";
import type { WalStorage } from "./wal-storage.js";
// WalStorage is the durable NodeStorage; this fails to compile if they drift apart.
export type WalIsNodeStorage = WalStorage extends NodeStorage ? true : never;
const _check: WalIsNodeStorage = true;
void _check;
