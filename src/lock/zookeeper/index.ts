export {
  ZOOKEEPER_GUARANTEES,
  ZooKeeperLockBackend,
  type ZooKeeperLockBackendOptions,
} from "./backend.js";
