/** etcd3, loaded only by `conclave/lock/etcd` (an optional peer dependency). */
import type * as EtcdClient from "etcd3";
import { importOptionalDriver } from "../optional-driver.js";

const etcd3 = await importOptionalDriver<typeof EtcdClient>("etcd3", "conclave/lock/etcd");

export const Etcd3 = etcd3.Etcd3;
export type Etcd3 = EtcdClient.Etcd3;
export const EtcdAuthenticationFailedError = etcd3.EtcdAuthenticationFailedError;
export const EtcdInvalidAuthTokenError = etcd3.EtcdInvalidAuthTokenError;
export const EtcdLeaseInvalidError = etcd3.EtcdLeaseInvalidError;
export const EtcdPermissionDeniedError = etcd3.EtcdPermissionDeniedError;
