import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import { type ClusterEventLimits, registerClusterEventRoutes } from "./cluster-events.js";
import { registerClusterProgressRoutes } from "./cluster-progress.js";
import { HttpApiError } from "./errors.js";
import type { KvAccess } from "./kv-access.js";
import { registerRingRoutes } from "./ring-routes.js";

/** A dashboard file that is not one of the files the dashboard ships. */
export class UiFileNotFoundError extends HttpApiError {
  constructor(name: string) {
    super(
      404,
      "UI_FILE_NOT_FOUND",
      `the dashboard has no file ${JSON.stringify(name.slice(0, 100))}`,
    );
  }
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** The names a dashboard file may have: one flat folder, no dots but the extension's. */
const UI_FILE_NAME = /^[a-z0-9][a-z0-9-]{0,63}\.(?:js|css|html|svg)$/;

interface UiFile {
  readonly body: Buffer;
  readonly contentType: string;
}

/** The dashboard's files, read once per server: the served set is fixed at start. */
interface UiBundle {
  /** `ui/<name>` files, by name. */
  readonly files: ReadonlyMap<string, UiFile>;
  /** The browser libraries under `/ui/vendor/<name>`, by name. */
  readonly vendor: ReadonlyMap<string, UiFile>;
  /** The Content-Security-Policy every dashboard answer carries. */
  readonly csp: string;
}

function extensionOf(name: string): string {
  return name.slice(name.lastIndexOf("."));
}

/**
 * The browser libraries the dashboard imports, each at a fixed name. Found
 * through Node's resolution from this module, so they come from whichever
 * node_modules the installed package sees.
 */
function vendorFiles(): Map<string, UiFile> {
  const require = createRequire(import.meta.url);
  const htmDir = dirname(require.resolve("htm"));
  const locations: [string, string][] = [
    ["preact.js", require.resolve("preact")],
    ["hooks.js", require.resolve("preact/hooks")],
    ["htm.js", join(htmDir, "htm.module.js")],
    ["uplot.js", require.resolve("uplot/dist/uPlot.esm.js")],
    ["uplot.css", require.resolve("uplot/dist/uPlot.min.css")],
  ];
  return new Map(
    locations.map(([name, path]) => [
      name,
      { body: readFileSync(path), contentType: CONTENT_TYPES[extensionOf(name)]! },
    ]),
  );
}

/** `ui/` beside src/ and dist/: both this file's homes are two levels below the package root. */
const UI_DIR = fileURLToPath(new URL("../../ui/", import.meta.url));

function dashboardFiles(dir: string): Map<string, UiFile> {
  const files = new Map<string, UiFile>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile() || !UI_FILE_NAME.test(entry.name)) continue;
    files.set(entry.name, {
      body: readFileSync(join(dir, entry.name)),
      contentType: CONTENT_TYPES[extensionOf(entry.name)]!,
    });
  }
  return files;
}

/**
 * The page's policy: scripts only from this origin, plus the one inline
 * script a browser allows nowhere else — the import map — by its hash.
 */
function dashboardCsp(indexHtml: string): string {
  const maps = [...indexHtml.matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)];
  const hashes = maps.map(
    (m) => `'sha256-${createHash("sha256").update(m[1]!, "utf8").digest("base64")}'`,
  );
  return [
    "default-src 'none'",
    `script-src 'self' ${hashes.join(" ")}`.trim(),
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Reads the dashboard's files; fails when the package lacks them. */
function loadUiBundle(dir: string): UiBundle {
  const files = dashboardFiles(dir);
  const index = files.get("index.html");
  if (index === undefined) throw new Error(`no index.html in ${dir}`);
  return { files, vendor: vendorFiles(), csp: dashboardCsp(index.body.toString("utf8")) };
}

function send(reply: FastifyReply, csp: string, file: UiFile) {
  return reply
    .header("content-type", file.contentType)
    .header("content-security-policy", csp)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("cross-origin-opener-policy", "same-origin")
    .header("cache-control", "no-cache")
    .send(file.body);
}

const fileParams = {
  type: "object",
  properties: { file: { type: "string", minLength: 1, maxLength: 100 } },
  required: ["file"],
  additionalProperties: false,
} as const;

export interface DashboardOptions {
  /** Where the dashboard's files are; default the package's `ui/`. */
  readonly uiDir?: string;
  readonly eventLimits?: ClusterEventLimits;
}

/**
 * The web dashboard at `/ui` and the cluster event stream it follows. The
 * pages and scripts are public (they hold no data); everything the
 * dashboard shows it reads from the API with the user's own token. Files are
 * served from a fixed map by exact name, so no request path reaches the
 * file system.
 */
export function registerDashboardRoutes(
  app: FastifyInstance,
  kv: KvAccess,
  options: DashboardOptions = {},
): void {
  registerClusterEventRoutes(app, kv, options.eventLimits);
  registerClusterProgressRoutes(app, kv);
  registerRingRoutes(app, kv);
  // Read once, on first use: a server that never serves the dashboard never reads it.
  let loaded: UiBundle | undefined;
  const ui = () => {
    try {
      loaded ??= loadUiBundle(options.uiDir ?? UI_DIR);
    } catch (err) {
      app.log.warn({ err }, "the dashboard's files could not be read");
      throw new HttpApiError(404, "UI_NOT_AVAILABLE", "this member has no dashboard files");
    }
    return loaded;
  };
  app.get("/ui", { schema: { summary: "The web dashboard" } }, async (_req, reply) => {
    const b = ui();
    return send(reply, b.csp, b.files.get("index.html")!);
  });
  app.get<{ Params: { file: string } }>(
    "/ui/:file",
    { schema: { summary: "A file of the web dashboard", params: fileParams } },
    async (req, reply) => {
      const b = ui();
      const file = b.files.get(req.params.file);
      if (file === undefined) throw new UiFileNotFoundError(req.params.file);
      return send(reply, b.csp, file);
    },
  );
  app.get<{ Params: { file: string } }>(
    "/ui/vendor/:file",
    { schema: { summary: "A browser library the dashboard imports", params: fileParams } },
    async (req, reply) => {
      const b = ui();
      const file = b.vendor.get(req.params.file);
      if (file === undefined) throw new UiFileNotFoundError(`vendor/${req.params.file}`);
      return send(reply, b.csp, file);
    },
  );
}
