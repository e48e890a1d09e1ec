/**
 * `npm run bench -- <name> [args...]` runs bench/<name>.ts. Each benchmark
 * prints a readable table and ends with one JSON line holding every figure.
 */
import { readdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.startsWith("_"))
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...rest] = process.argv.slice(2);
if (name === undefined || !available.includes(name)) {
  console.error(
    `usage: npm run bench -- <name> [args...]\navailable: ${available.join(", ") || "(none)"}`,
  );
  process.exit(name === undefined ? 0 : 2);
}
process.argv = [process.argv[0]!, process.argv[1]!, ...rest];
await import(pathToFileURL(`${here}${name}.ts`).href);
