export { MemoryStorage } from "./memory.js";
export type { NodeStorage, PersistUpdate } from "./node-storage.js";
