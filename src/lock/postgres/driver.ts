/** pg, loaded only by `conclave/lock/postgres` (an optional peer dependency). */
import type * as PgModule from "pg";
import { importOptionalDriver } from "../optional-driver.js";

// The default export is pg's CommonJS exports in every 8.x release; the named
// ESM exports exist only in recent ones.
const pg = (await importOptionalDriver<typeof PgModule>("pg", "conclave/lock/postgres")).default;

export const Pool = pg.Pool;
