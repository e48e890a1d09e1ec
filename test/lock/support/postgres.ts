/** Reaching the shared PostgreSQL of the test machine. */
import pg from "pg";

export const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";

/** Small pools: the suite opens many clients and PostgreSQL's connection limit is shared. */
export function testPoolConfig(url = POSTGRES_URL): pg.PoolConfig {
  return { connectionString: url, max: 3, idleTimeoutMillis: 1000 };
}

/** Fails loudly, saying how to start it, when PostgreSQL is not reachable. */
export async function requireSharedPostgres(url = POSTGRES_URL): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${url}; start it with \`bash .ci/services.sh\` (trust auth, database "test")`,
      { cause: error },
    );
  } finally {
    await client.end().catch(() => {});
  }
}
