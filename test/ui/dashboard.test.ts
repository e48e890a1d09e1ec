/**
 * The dashboard in a real browser against a live cluster of three
 * `conclave serve` processes: data written through the SDK shows up in each
 * view, killing the leader shows in the cluster view and its timeline, and
 * with auth enabled the page asks for credentials first.
 */
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConclaveClient } from "../../src/client/index.js";
import { ConclaveLockBackend } from "../../src/lock/conclave/index.js";
import { LockClient, type LockHandle } from "../../src/lock/index.js";
import { type Registration, Registry } from "../../src/registry/index.js";
import { ServeCluster } from "../server/process/serve-cluster.js";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOTS = fileURLToPath(new URL("../../artifacts/screenshots/", import.meta.url));
/** How long the page may take to show something once the cluster holds it. */
const SHOWN_WITHIN_MS = 15_000;
const ROOT_PASSWORD = "dashboard-root-password";

let cluster: ServeCluster;
let browser: Browser;
let page: Page;
let client: ConclaveClient;
let locks: LockClient;
let lock: LockHandle;
let registry: Registry;
let registration: Registration;
let leaseId: number;
/** The member the browser talks to: never the one the test kills. */
let viewedId: number;
let leaderId: number;
const pageErrors: string[] = [];

beforeAll(async () => {
  // Loud, not skipped: CI installs chromium (.ci/services.sh), and a dashboard untested in a
  // browser is a dashboard untested.
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (.ci/services.sh)`);
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  cluster = new ServeCluster({ size: 3, extraArgs: ["--bcrypt-cost", "4"] });
  const [launched] = await Promise.all([
    chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false }),
    cluster.start(),
  ]);
  browser = launched;
  leaderId = await cluster.waitFor(() => cluster.leader(), "a leader", 20_000);
  viewedId = cluster.ids.find((id) => id !== leaderId)!;
  client = cluster.client();

  await client.put("app/config/color", "red");
  await client.put("app/config/color", "green");
  await client.put("app/config/color", "blue");
  await client.put("app/config/size", "large");
  // More than one page (50) of keys under one prefix.
  await Promise.all(
    Array.from({ length: 55 }, (_, i) => client.put(`bulk/${String(i).padStart(2, "0")}`, "x")),
  );
  leaseId = (await client.leaseGrant(120)).id;
  await client.put("app/session/alice", "signed-in", { lease: leaseId });
  locks = new LockClient(
    new ConclaveLockBackend({ endpoints: cluster.ids.map((id) => cluster.member(id).clientUrl) }),
  );
  lock = await locks.acquire("orders", { ttlMs: 30_000 });
  registry = new Registry(client);
  registration = await registry.register({
    service: "billing",
    id: "billing-1",
    address: "10.0.0.7",
    port: 9090,
    metadata: { zone: "eu" },
    ttlMs: 30_000,
  });

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(`pageerror: ${err.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(`console: ${m.text()}`);
  });
}, 90_000);

afterAll(async () => {
  await registration?.deregister().catch(() => {});
  await lock?.release().catch(() => {});
  await locks?.destroy().catch(() => {});
  await client?.close();
  await browser?.close();
  await cluster?.destroy();
});

function url(id: number, path = "/ui"): string {
  return `${cluster.member(id).clientUrl}${path}`;
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
}

/** Waits until the locator shows, failing with what was awaited. */
async function shown(locator: Locator, what: string): Promise<Locator> {
  try {
    await locator.first().waitFor({ state: "visible", timeout: SHOWN_WITHIN_MS });
  } catch (err) {
    throw new Error(`the dashboard did not show ${what}: ${String(err)}\n${pageErrors.join("\n")}`);
  }
  return locator;
}

async function openView(id: string): Promise<void> {
  await page.getByTestId(`nav-${id}`).click();
  await shown(page.getByTestId(`view-${id}`), `the ${id} view`);
}

describe("the dashboard against a live cluster", () => {
  it("shows the members and the leader", async () => {
    await page.goto(url(viewedId));
    await shown(page.getByTestId("member-count").filter({ hasText: /^3$/ }), "3 members");
    const leaderName = cluster.member(leaderId).name;
    await shown(page.getByTestId("leader-name").filter({ hasText: leaderName }), "the leader");
    await shown(
      page.locator(`[data-testid="member-${leaderName}"][data-role="leader"][data-state="up"]`),
      "the leader's row",
    );
    // The leader's view of replication reaches the follower the page is on.
    for (const id of cluster.ids) {
      await shown(
        page.locator(`[data-testid="member-n${id}"][data-state="up"]`),
        `member ${id} up`,
      );
    }
    await shown(page.getByTestId("timeline-entry"), "a timeline entry");
    await shown(page.locator('[data-testid="progress-chart"] canvas'), "the chart");
    await shot("cluster");
  });

  it("lists keys, a key's history and live changes", async () => {
    await openView("keys");
    await page.getByTestId("key-prefix").fill("app/");
    await page.getByTestId("key-browse").click();
    // The table names the prefix it shows: an earlier page's rows are not this one's.
    const rows = page.locator(
      '[data-testid="key-table"][data-prefix="app/"] [data-testid="key-row"]',
    );
    await shown(rows.filter({ hasText: "app/config/size" }), "app/config/size");
    expect(await rows.count()).toBe(3);
    await page.getByTestId("key-link").filter({ hasText: "app/config/color" }).click();
    const history = page.getByTestId("history-row");
    await shown(history.filter({ hasText: "red" }), "the first version");
    expect(await history.allTextContents()).toEqual([
      expect.stringContaining("blue"),
      expect.stringContaining("green"),
      expect.stringContaining("red"),
    ]);
    await page.getByTestId("key-prefix").fill("bulk/");
    await page.getByTestId("key-browse").click();
    const bulk = page.locator(
      '[data-testid="key-table"][data-prefix="bulk/"] [data-testid="key-row"]',
    );
    await shown(bulk.filter({ hasText: "bulk/49" }), "the first page");
    expect(await bulk.count()).toBe(50);
    await page.getByTestId("key-next").click();
    await shown(bulk.filter({ hasText: "bulk/54" }), "the second page");
    expect(await bulk.allTextContents()).toEqual(
      [50, 51, 52, 53, 54].map((i) => expect.stringContaining(`bulk/${i}`)),
    );
    await page.getByTestId("key-prefix").fill("app/");
    await page.getByTestId("key-browse").click();
    await shown(rows.filter({ hasText: "app/config/size" }), "app/ again");
    await page.getByTestId("key-watch").click();
    await shown(page.getByText("Waiting for changes"), "the watch");
    await client.put("app/config/size", "small");
    await shown(
      page.getByTestId("watch-event").filter({ hasText: "app/config/size" }),
      "the watched change",
    );
    await shot("keys");
  });

  it("lists the lease with its countdown and attached key", async () => {
    await openView("leases");
    const row = page.locator(`[data-testid="lease-row"][data-lease="${leaseId}"]`);
    await shown(row.getByTestId("lease-key").filter({ hasText: "app/session/alice" }), "the key");
    const remaining = Number.parseInt(
      (await row.getByTestId("lease-remaining").textContent()) ?? "",
      10,
    );
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(120);
    await shot("leases");
  });

  it("shows the lock holder with its fencing token", async () => {
    await openView("locks");
    const queue = page.locator('[data-testid="lock-queue"][data-name="orders"]');
    const holder = queue.locator('[data-testid="lock-entry"][data-state="holds"]');
    await shown(holder, "the lock holder");
    expect(await holder.count()).toBe(1);
    expect(await holder.getByTestId("fencing-token").textContent()).toBe(String(lock.fencingToken));
    await shot("locks");
  });

  it("shows the registered service instance", async () => {
    await openView("services");
    const row = page.locator('[data-testid="service-row"][data-service="billing"]');
    await shown(row.filter({ hasText: "10.0.0.7:9090" }), "the instance");
    expect(await row.getAttribute("data-status")).toBe("passing");
    await shot("services");
  });

  it("shows which member owns a key on the hash ring", async () => {
    await openView("ring");
    await page.getByTestId("ring-key").fill("customer/42");
    await page.getByTestId("ring-lookup").click();
    const owner = await shown(page.getByTestId("ring-owner"), "the owner");
    const expected = await cluster.post(viewedId, "/v3/ring/lookup", {
      keys: ["customer/42"],
      points_per_member: 32,
    });
    const keys = expected.body.keys as { owner: string }[];
    expect(await owner.textContent()).toBe(keys[0]!.owner);
    expect(cluster.ids.map((id) => cluster.member(id).name)).toContain(keys[0]!.owner);
    await shot("ring");
  });

  it("shows a new leader, the old one unreachable, and the change in the timeline", async () => {
    await openView("cluster");
    const oldLeader = cluster.member(leaderId).name;
    await shown(page.getByTestId("leader-name").filter({ hasText: oldLeader }), "the leader");
    await cluster.kill(leaderId);
    const survivors = cluster.ids.filter((id) => id !== leaderId);
    const newLeaderId = await cluster.waitFor(
      () => cluster.leader(survivors),
      "a new leader",
      20_000,
    );
    const newLeader = cluster.member(newLeaderId).name;
    await shown(page.getByTestId("leader-name").filter({ hasText: newLeader }), "the new leader");
    await shown(
      page.locator(`[data-testid="member-${newLeader}"][data-role="leader"]`),
      "the new leader's row",
    );
    await shown(
      page.locator(`[data-testid="member-${oldLeader}"][data-state="unreachable"]`),
      "the killed member unreachable",
    );
    await shown(
      page.locator(`[data-testid="timeline-entry"][data-leader="${newLeaderId}"]`),
      "the leader change in the timeline",
    );
    const leaders = await page
      .getByTestId("timeline-entry")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-leader")));
    expect(leaders[0]).toBe(String(leaderId));
    expect(leaders.at(-1)).toBe(String(newLeaderId));
    await shot("cluster-after-leader-killed");
    expect(pageErrors.filter((e) => !e.includes("Failed to load resource"))).toEqual([]);
  });

  it("asks for credentials once auth is enabled, refusing a wrong password", async () => {
    const survivor = viewedId;
    for (const [path, body] of [
      ["/v3/auth/user/add", { name: "root", password: ROOT_PASSWORD }],
      ["/v3/auth/user/grant", { user: "root", role: "root" }],
      ["/v3/auth/enable", {}],
    ] as const) {
      const r = await cluster.post(survivor, path, body);
      expect(r.status, `${path} ${JSON.stringify(r.body)}`).toBe(200);
    }
    await page.goto(url(survivor));
    const form = await shown(page.getByTestId("login-form"), "the login form");
    await shot("login");
    await form.locator('input[name="name"]').fill("root");
    await form.locator('input[name="password"]').fill("not-the-password");
    await form.getByRole("button", { name: "Sign in" }).click();
    await shown(page.getByTestId("login-error"), "the refusal");
    expect(await page.getByTestId("view-cluster").count()).toBe(0);
    await form.locator('input[name="password"]').fill(ROOT_PASSWORD);
    await form.getByRole("button", { name: "Sign in" }).click();
    await shown(page.getByTestId("member-count").filter({ hasText: /^3$/ }), "the members");
    await openView("keys");
    await page.getByTestId("key-prefix").fill("app/");
    await page.getByTestId("key-browse").click();
    await shown(page.getByTestId("key-row").filter({ hasText: "app/config/color" }), "the keys");
    await shot("keys-signed-in");
    // A token the server no longer accepts brings the form back.
    await page.evaluate('sessionStorage.setItem("conclave.dashboard.token", "not-a-token")');
    await page.reload();
    await shown(page.getByTestId("login-form"), "the login form again");
  });
});
