import type { FastifyInstance } from "fastify";

/** The value of one series in a Prometheus text exposition, or undefined when it is absent. */
export function sampleValue(
  exposition: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(",");
  for (const line of exposition.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const got = (m[2] ?? "")
      .split(/,(?=[a-zA-Z_])/)
      .filter(Boolean)
      .sort()
      .join(",");
    if (got === wanted) return Number(m[3]);
  }
  return undefined;
}

export async function scrapeMetrics(app: FastifyInstance): Promise<string> {
  const res = await app.inject({ method: "GET", url: "/metrics" });
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`);
  return res.body;
}

/** Scrapes until `name{labels}` reads `expected`, or fails naming the last value seen. */
export async function waitForSample(
  app: FastifyInstance,
  name: string,
  labels: Readonly<Record<string, string>>,
  expected: (value: number | undefined) => boolean,
  timeoutMs = 5000,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = sampleValue(await scrapeMetrics(app), name, labels);
    if (expected(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`${name}${JSON.stringify(labels)} still ${value} after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
