/** ioredis, loaded only by `conclave/lock/redis` (an optional peer dependency). */
import type * as IORedis from "ioredis";
import { importOptionalDriver } from "../optional-driver.js";

const ioredis = await importOptionalDriver<typeof IORedis>("ioredis", "conclave/lock/redis");

export const Redis = ioredis.Redis;
export type Redis = IORedis.Redis;
export type RedisOptions = IORedis.RedisOptions;
