/**
 * Small HTTP calls to one member, shared by both systems' targets: both
 * answer `POST /v3/kv/range` with the etcd JSON shape (etcd through its gRPC
 * gateway) and `GET /metrics` in the Prometheus text format.
 */

export async function postJson(url: string, body: unknown, timeoutMs: number): Promise<unknown> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as unknown;
}

export async function getText(url: string, timeoutMs: number): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 200)}`);
  return text;
}

/** A linearizable single-key read through one member (both systems' default for range). */
export async function linearizableGet(
  endpoint: string,
  key: string,
  timeoutMs: number,
): Promise<void> {
  await postJson(
    `${endpoint}/v3/kv/range`,
    { key: Buffer.from(key).toString("base64") },
    timeoutMs,
  );
}

/**
 * The sum of every series of `name` (all label sets) in a Prometheus text
 * exposition; NaN when no series has that name.
 */
export function metricSum(exposition: string, name: string): number {
  let sum = Number.NaN;
  for (const line of exposition.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? (\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const value = Number(m[2]);
    sum = (Number.isNaN(sum) ? 0 : sum) + value;
  }
  return sum;
}

/** A JSON field that etcd's gateway sends as a decimal string (uint64) and Conclave as a number. */
export function numberField(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") return Number(value);
  return Number.NaN;
}
