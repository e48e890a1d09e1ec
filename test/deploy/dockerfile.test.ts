import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { validate } from "dockerfile-utils";
import { afterEach, describe, expect, it } from "vitest";
import { defaultSettings } from "../../src/server/runtime/config-fields.js";
import { ROOT, read } from "./support.js";

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly stage: number;
}

/** Instructions with continuation lines joined; `stage` counts FROMs from 0. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  const logical = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  for (const line of logical) {
    const m = /^([A-Za-z]+)\s*(.*)$/.exec(line);
    if (m === null) throw new Error(`not an instruction: ${line}`);
    const keyword = m[1]!.toUpperCase();
    if (keyword === "FROM") stage++;
    out.push({ keyword, args: m[2]!.trim(), stage });
  }
  return out;
}

/** Policy the image must keep; returns the problems found. */
function policyProblems(text: string): string[] {
  const problems: string[] = [];
  const diagnostics = validate(text);
  for (const d of diagnostics)
    problems.push(`dockerfile-utils: line ${d.range.start.line + 1}: ${d.message}`);
  const ins = instructions(text);
  const args = new Map<string, string>();
  for (const i of ins.filter((i) => i.keyword === "ARG")) {
    const [name, value] = i.args.split("=", 2);
    if (value !== undefined) args.set(name!, value);
  }
  const froms = ins.filter((i) => i.keyword === "FROM");
  if (froms.length < 2) problems.push("not multi-stage");
  const stageNames = new Set(froms.map((f) => /\bAS\s+(\S+)/i.exec(f.args)?.[1]));
  for (const f of froms) {
    const image = f.args
      .split(/\s+/)[0]!
      .replace(/^\$\{?(\w+)\}?$/, (_, n: string) => args.get(n) ?? n);
    if (stageNames.has(image)) continue;
    if (!/:[^/]+$/.test(image) || /:latest$/.test(image))
      problems.push(`base image without a fixed tag: ${image}`);
  }
  const last = froms.length - 1;
  const final = ins.filter((i) => i.stage === last);
  const users = final.filter((i) => i.keyword === "USER");
  const user = users[users.length - 1]?.args.split(":")[0];
  if (user === undefined || user === "root" || user === "0")
    problems.push("final stage runs as root");
  if (!final.some((i) => i.keyword === "HEALTHCHECK" && !/^NONE$/i.test(i.args))) {
    problems.push("no HEALTHCHECK in the final stage");
  }
  if (!final.some((i) => i.keyword === "VOLUME")) problems.push("no data VOLUME");
  const entry = final.find((i) => i.keyword === "ENTRYPOINT")?.args;
  if (entry === undefined || !/^\[\s*"conclave",\s*"serve"\s*\]$/.test(entry)) {
    problems.push(`ENTRYPOINT is not ["conclave", "serve"]: ${entry}`);
  }
  const npm = final.filter((i) => i.keyword === "RUN" && /\bnpm\b/.test(i.args));
  if (npm.length > 0)
    problems.push("the final stage runs npm (dependencies belong to an earlier stage)");
  for (const i of ins.filter(
    (i) => i.keyword === "RUN" && /npm ci/.test(i.args) && i.stage !== 0,
  )) {
    if (!/--omit=dev/.test(i.args))
      problems.push(`production install without --omit=dev: ${i.args}`);
  }
  const copies = final.filter((i) => i.keyword === "COPY").map((i) => i.args);
  for (const dir of ["dist", "proto", "ui", "node_modules"]) {
    if (!copies.some((c) => new RegExp(`\\b${dir}\\b`).test(c)))
      problems.push(`final stage lacks ${dir}/`);
  }
  if (copies.some((c) => /^\.\s|\s\.\s*$/.test(c) && !/package\.json/.test(c))) {
    problems.push("final stage copies the whole build context");
  }
  // EXPOSE: the serve defaults (client and peer ports) and the listen settings of ENV.
  const exposed = final
    .filter((i) => i.keyword === "EXPOSE")
    .flatMap((i) => i.args.split(/\s+/))
    .map((p) => Number(p.replace(/\/tcp$/, "")))
    .sort();
  const defaults = defaultSettings();
  const envText = final
    .filter((i) => i.keyword === "ENV")
    .map((i) => i.args)
    .join(" ");
  const listenPorts = [...envText.matchAll(/CONCLAVE_LISTEN_(?:CLIENT|PEER|GRPC)=\S+:(\d+)/g)].map(
    (m) => Number(m[1]),
  );
  const wanted = new Set([
    Number(defaults.listenClient.split(":")[1]),
    Number(defaults.listenPeer.split(":")[1]),
    ...listenPorts,
  ]);
  if (JSON.stringify(exposed) !== JSON.stringify([...wanted].sort())) {
    problems.push(
      `EXPOSE ${exposed.join(" ")} but serve listens on ${[...wanted].sort().join(" ")}`,
    );
  }
  return problems;
}

describe("Dockerfile", () => {
  const text = read("Dockerfile");

  it("lints clean and keeps the image policy", () => {
    expect(policyProblems(text)).toEqual([]);
  });

  it("exposes the client, peer and etcd gRPC ports", () => {
    const exposed = instructions(text)
      .filter((i) => i.keyword === "EXPOSE")
      .map((i) => i.args);
    expect(exposed).toEqual(["7379 7380 7479"]);
  });

  it("each planted mistake is reported", () => {
    const plants: [string, string, RegExp][] = [
      ["USER conclave:conclave", "USER root", /runs as root/],
      ["HEALTHCHECK --interval", "# HEALTHCHECK --interval", /no HEALTHCHECK|dockerfile-utils/],
      ["ARG NODE_IMAGE=node:20.19-bookworm-slim", "ARG NODE_IMAGE=node:latest", /fixed tag/],
      ["EXPOSE 7379 7380 7479", "EXPOSE 7379 7479", /EXPOSE/],
      ["--omit=dev", "", /--omit=dev/],
      ["COPY ui ./ui", "", /lacks ui/],
      ['ENTRYPOINT ["conclave", "serve"]', 'ENTRYPOINT ["node"]', /ENTRYPOINT/],
      [
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile and shell text, not JavaScript
        "FROM ${NODE_IMAGE} AS runtime",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile and shell text, not JavaScript
        "FRM ${NODE_IMAGE} AS runtime",
        /dockerfile-utils|instruction/,
      ],
    ];
    for (const [from, to, error] of plants) {
      expect(text.includes(from), from).toBe(true);
      const planted = text.replace(from, to);
      let problems: string[];
      try {
        problems = policyProblems(planted);
      } catch (err) {
        problems = [(err as Error).message];
      }
      expect(problems.join("\n"), from).toMatch(error);
    }
  });

  it(".dockerignore keeps the context to what the build reads", () => {
    const ignore = read(".dockerignore")
      .split("\n")
      .map((l) => l.trim());
    expect(ignore[ignore.findIndex((l) => l !== "" && !l.startsWith("#"))]).toBe("*");
    const copied = instructions(read("Dockerfile"))
      .filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from"))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const path of copied) {
      expect(
        ignore.some((l) => l === `!${path}` || l === `!${path}/`),
        path,
      ).toBe(true);
    }
  });
});

describe("deploy/docker/healthcheck.mjs", () => {
  const run = promisify(execFile);
  let server: Server | undefined;
  afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

  async function serveStatus(status: number): Promise<number> {
    server = createServer((req, res) => {
      res.statusCode = req.url === "/health" ? status : 404;
      res.end("{}");
    });
    await new Promise<void>((done) => server!.listen(0, "127.0.0.1", done));
    return (server.address() as AddressInfo).port;
  }

  const script = join(ROOT, "deploy/docker/healthcheck.mjs");

  it("passes on 200 from /health at the port of CONCLAVE_LISTEN_CLIENT", async () => {
    const port = await serveStatus(200);
    const env = { ...process.env, CONCLAVE_LISTEN_CLIENT: `0.0.0.0:${port}` };
    await expect(run(process.execPath, [script], { env })).resolves.toBeDefined();
  });

  it("fails on 503 and when nothing listens", async () => {
    const port = await serveStatus(503);
    const env = { ...process.env, CONCLAVE_LISTEN_CLIENT: `0.0.0.0:${port}` };
    await expect(run(process.execPath, [script], { env })).rejects.toMatchObject({ code: 1 });
    await new Promise<void>((done) => server!.close(() => done()));
    server = undefined;
    await expect(run(process.execPath, [script], { env })).rejects.toMatchObject({ code: 1 });
  });
});
