import type pg from "pg";
import { InvalidArgumentError } from "../../errors.js";

/** Names of the objects the PostgreSQL backends create, all under one schema and prefix. */
export interface SqlNames {
  readonly leases: string;
  readonly fences: string;
  readonly acquire: string;
  readonly release: string;
  /** LISTEN/NOTIFY channel announcing releases and leader changes. */
  readonly channel: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,39}$/;

export function sqlNames(schema: string, tablePrefix: string): SqlNames {
  for (const [what, value] of [
    ["schema", schema],
    ["tablePrefix", tablePrefix],
  ] as const) {
    if (typeof value !== "string" || !IDENTIFIER.test(value)) {
      throw new InvalidArgumentError(
        `PostgreSQL ${what} must match ${IDENTIFIER.source}, got ${JSON.stringify(value)}`,
      );
    }
  }
  const q = (name: string) => `"${schema}"."${tablePrefix}_${name}"`;
  return {
    leases: q("leases"),
    fences: q("fences"),
    acquire: q("acquire"),
    release: q("release"),
    channel: `${tablePrefix}_wake`,
  };
}

/**
 * DDL for the lease table, the per-name fencing counters and the two
 * functions that make acquire and release one round trip each. Every grant
 * of a name first locks that name's counter row, so grants of one name are
 * serialized and tokens increase in commit order. Expiry is judged by the
 * database clock (clock_timestamp()), never by a client's.
 */
function ddl(n: SqlNames, schema: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS "${schema}";
CREATE TABLE IF NOT EXISTS ${n.fences} (
  ns text NOT NULL,
  name text NOT NULL,
  last_token bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (ns, name)
);
CREATE TABLE IF NOT EXISTS ${n.leases} (
  ns text NOT NULL,
  name text NOT NULL,
  owner_id text NOT NULL,
  shared boolean NOT NULL,
  expires_at timestamptz NOT NULL,
  fencing_token bigint NOT NULL,
  value text,
  PRIMARY KEY (ns, name, owner_id)
);
CREATE OR REPLACE FUNCTION ${n.acquire}(
  p_ns text, p_name text, p_kind text, p_owner text, p_ttl_ms bigint, p_permits int, p_value text
) RETURNS TABLE (granted boolean, token bigint, retry_ms bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_now timestamptz;
  v_blocking bigint;
  v_next timestamptz;
  v_token bigint;
BEGIN
  INSERT INTO ${n.fences} (ns, name) VALUES (p_ns, p_name) ON CONFLICT DO NOTHING;
  PERFORM 1 FROM ${n.fences} f WHERE f.ns = p_ns AND f.name = p_name FOR UPDATE;
  v_now := clock_timestamp();
  DELETE FROM ${n.leases} l WHERE l.ns = p_ns AND l.name = p_name AND l.expires_at <= v_now;
  IF p_kind = 'read' THEN
    SELECT count(*) INTO v_blocking FROM ${n.leases} l
      WHERE l.ns = p_ns AND l.name = p_name AND NOT l.shared;
  ELSIF p_kind = 'semaphore' THEN
    SELECT greatest(count(*) - p_permits + 1, 0) INTO v_blocking FROM ${n.leases} l
      WHERE l.ns = p_ns AND l.name = p_name;
  ELSE
    SELECT count(*) INTO v_blocking FROM ${n.leases} l WHERE l.ns = p_ns AND l.name = p_name;
  END IF;
  IF v_blocking > 0 THEN
    SELECT min(l.expires_at) INTO v_next FROM ${n.leases} l WHERE l.ns = p_ns AND l.name = p_name;
    RETURN QUERY SELECT false, NULL::bigint,
      greatest(1, ceil(extract(epoch FROM (v_next - v_now)) * 1000))::bigint;
    RETURN;
  END IF;
  UPDATE ${n.fences} f SET last_token = f.last_token + 1
    WHERE f.ns = p_ns AND f.name = p_name RETURNING f.last_token INTO v_token;
  INSERT INTO ${n.leases} (ns, name, owner_id, shared, expires_at, fencing_token, value)
    VALUES (p_ns, p_name, p_owner, p_kind IN ('read', 'semaphore'),
            v_now + p_ttl_ms * interval '1 millisecond', v_token, p_value);
  IF p_kind = 'leader' THEN
    PERFORM pg_notify('${n.channel}', p_ns || ':' || p_name);
  END IF;
  RETURN QUERY SELECT true, v_token, 0::bigint;
END
$fn$;
CREATE OR REPLACE FUNCTION ${n.release}(p_ns text, p_name text, p_owner text)
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  v_expires timestamptz;
BEGIN
  DELETE FROM ${n.leases} l WHERE l.ns = p_ns AND l.name = p_name AND l.owner_id = p_owner
    RETURNING l.expires_at INTO v_expires;
  IF v_expires IS NULL OR v_expires <= clock_timestamp() THEN
    RETURN false;
  END IF;
  PERFORM pg_notify('${n.channel}', p_ns || ':' || p_name);
  RETURN true;
END
$fn$;
`;
}

/** A fixed advisory-lock key that serializes schema setup across processes. */
const SETUP_LOCK_KEY = "7170416452011117313";

/** Creates (or updates) the schema objects; safe to run from many processes at once. */
export async function ensureSchema(pool: pg.Pool, names: SqlNames, schema: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query(`SELECT pg_advisory_xact_lock(${SETUP_LOCK_KEY})`);
    await client.query(ddl(names, schema));
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
