export { ETCD_GUARANTEES, EtcdLockBackend, type EtcdLockBackendOptions } from "./backend.js";
