/**
 * The Lua scripts of the Redis backend. Each runs atomically on the server,
 * so check-and-act steps (compare owner then delete, check queue head then
 * grant) cannot interleave with another client's. Lease ends of shared
 * holders (readers, semaphore permits) and fair-queue liveness are judged by
 * the server's clock (TIME); single owners use PX expiry.
 *
 * Replies: acquire -> {1, token} | {0, retryHintMs or -1}; others -> 1 | 0.
 */
import type { LeaseKind } from "../types.js";
import { LuaScript } from "./lua.js";

const NOW = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local now = now_ms()
-- A zset of lease ends lives a little longer than its latest member.
local function keep_zset_until_last(key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', key, math.max(1, tonumber(last[2]) - now) + 1000) end
end
local function pttl_hint(key)
  local pttl = redis.call('PTTL', key)
  if pttl > 0 then return pttl end
  return -1
end
local function earliest_hint(key)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] then return math.max(1, tonumber(first[2]) - now) end
  return -1
end
`;

/** Per kind: check() -> available, retry hint; take(token) records the grant. */
const KIND_LOGIC: Record<LeaseKind, string> = {
  mutex: `
local function check()
  if redis.call('EXISTS', KEYS[1]) == 0 then return true, 0 end
  return false, pttl_hint(KEYS[1])
end
local function take(token) redis.call('SET', KEYS[1], owner, 'NX', 'PX', ttl) end
`,
  leader: `
local function check()
  if redis.call('EXISTS', KEYS[1]) == 0 then return true, 0 end
  return false, pttl_hint(KEYS[1])
end
local function take(token)
  redis.call('HSET', KEYS[1], 'owner', owner, 'value', value, 'token', token)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PUBLISH', channel, 'leader')
end
`,
  write: `
local function check()
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('EXISTS', KEYS[1]) == 1 then return false, pttl_hint(KEYS[1]) end
  if redis.call('ZCARD', KEYS[2]) > 0 then return false, earliest_hint(KEYS[2]) end
  return true, 0
end
local function take(token) redis.call('SET', KEYS[1], owner, 'NX', 'PX', ttl) end
`,
  read: `
local function check()
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('EXISTS', KEYS[1]) == 1 then return false, pttl_hint(KEYS[1]) end
  return true, 0
end
local function take(token)
  redis.call('ZADD', KEYS[2], now + ttl, owner)
  keep_zset_until_last(KEYS[2])
end
`,
  semaphore: `
local function check()
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) < permits then return true, 0 end
  return false, earliest_hint(KEYS[1])
end
local function take(token)
  redis.call('ZADD', KEYS[1], now + ttl, owner)
  keep_zset_until_last(KEYS[1])
end
`,
};

/**
 * KEYS: main, readers, fence, queue, queueDeadlines.
 * ARGV: owner, ttlMs, fair (1/0), queueTtlMs, permits, value, channel.
 */
const ACQUIRE_PRELUDE = `
local owner = ARGV[1]
local ttl = tonumber(ARGV[2])
local fair = ARGV[3] == '1'
local queue_ttl = tonumber(ARGV[4])
local permits = tonumber(ARGV[5])
local value = ARGV[6]
local channel = ARGV[7]
${NOW}`;

const ACQUIRE_BODY = `
if not fair then
  local ok, hint = check()
  if not ok then return {0, hint} end
  local token = redis.call('INCR', KEYS[3])
  take(token)
  return {1, token}
end
-- Fair: drop waiters that stopped refreshing their place, then only the head may take it.
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)) do
  redis.call('ZREM', KEYS[4], gone)
  redis.call('ZREM', KEYS[5], gone)
end
local head = redis.call('ZRANGE', KEYS[4], 0, 0)[1]
local ok, hint = check()
if ok and (head == nil or head == owner) then
  local token = redis.call('INCR', KEYS[3])
  take(token)
  redis.call('ZREM', KEYS[4], owner)
  redis.call('ZREM', KEYS[5], owner)
  -- The next in line may fit too (readers, free permits): let it try.
  if redis.call('ZCARD', KEYS[4]) > 0 then redis.call('PUBLISH', channel, 'next') end
  return {1, token}
end
if not redis.call('ZSCORE', KEYS[4], owner) then
  redis.call('ZADD', KEYS[4], redis.call('INCR', KEYS[3]), owner)
end
redis.call('ZADD', KEYS[5], now + queue_ttl, owner)
redis.call('PEXPIRE', KEYS[4], queue_ttl * 2)
redis.call('PEXPIRE', KEYS[5], queue_ttl * 2)
if ok then return {0, -1} end
return {0, hint}
`;

export const ACQUIRE: Record<LeaseKind, LuaScript> = {
  mutex: new LuaScript(ACQUIRE_PRELUDE + KIND_LOGIC.mutex + ACQUIRE_BODY),
  leader: new LuaScript(ACQUIRE_PRELUDE + KIND_LOGIC.leader + ACQUIRE_BODY),
  write: new LuaScript(ACQUIRE_PRELUDE + KIND_LOGIC.write + ACQUIRE_BODY),
  read: new LuaScript(ACQUIRE_PRELUDE + KIND_LOGIC.read + ACQUIRE_BODY),
  semaphore: new LuaScript(ACQUIRE_PRELUDE + KIND_LOGIC.semaphore + ACQUIRE_BODY),
};

/**
 * The uncontended fast path of an unfair mutex: one SET NX PX with the random
 * owner value, and the fencing counter of the same slot. KEYS: lock, fence.
 * ARGV: owner, ttlMs.
 */
export const ACQUIRE_MUTEX_FAST = new LuaScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('INCR', KEYS[2])}
end
local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 then return {0, pttl} end
return {0, -1}
`);

/** Where the owner of a lease is recorded, per kind. */
type OwnerRecord = "string" | "hash" | "zset";
export const OWNER_RECORD: Record<LeaseKind, OwnerRecord> = {
  mutex: "string",
  write: "string",
  leader: "hash",
  read: "zset",
  semaphore: "zset",
};

/** KEYS: owner record. ARGV: owner, ttlMs. */
export const EXTEND: Record<OwnerRecord, LuaScript> = {
  string: new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`),
  hash: new LuaScript(`
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`),
  zset: new LuaScript(`${NOW}
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) > now then
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
  keep_zset_until_last(KEYS[1])
  return 1
end
return 0
`),
};

/** KEYS: owner record. ARGV: owner, channel. Publishes so waiters retry at once. */
export const RELEASE: Record<OwnerRecord, LuaScript> = {
  string: new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], 'released')
  return 1
end
return 0
`),
  hash: new LuaScript(`
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], 'released')
  return 1
end
return 0
`),
  zset: new LuaScript(`${NOW}
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
if score and tonumber(score) > now then
  redis.call('PUBLISH', ARGV[2], 'released')
  return 1
end
return 0
`),
};

/** KEYS: leader hash. ARGV: owner, value, channel. */
export const PROCLAIM = new LuaScript(`
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'value', ARGV[2])
  redis.call('PUBLISH', ARGV[3], 'leader')
  return 1
end
return 0
`);

/** KEYS: leader hash. Reply: {value, token, pttl, owner} or {}. */
export const READ_LEADER = new LuaScript(`
local fields = redis.call('HMGET', KEYS[1], 'value', 'token', 'owner')
if not fields[1] then return {} end
return {fields[1], fields[2], redis.call('PTTL', KEYS[1]), fields[3]}
`);

/** KEYS: queue, queueDeadlines. ARGV: owner, channel. Leaves the fair queue; the next in line may go. */
export const LEAVE_QUEUE = new LuaScript(`
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if removed == 1 then redis.call('PUBLISH', ARGV[2], 'left') end
return removed
`);
