export { MEMORY_GUARANTEES, MemoryLockBackend, type MemoryLockBackendOptions } from "./backend.js";
export { MemoryLockStore } from "./store.js";
