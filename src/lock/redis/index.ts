export { RedisLockBackend, type RedisLockBackendOptions, redisGuarantees } from "./backend.js";
