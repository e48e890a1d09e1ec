import { useEffect, useState } from "preact/hooks";
import { call, text } from "./api.js";
import { html } from "./html.js";
import { errorText, usePoll } from "./poll.js";

/** Leases whose details one refresh reads at most. */
const MAX_DETAILED = 100;

/** Every lease with its remaining TTL and attached keys, as `/v3/lease/timetolive` answers. */
async function loadLeases() {
  const list = await call("/v3/lease/leases", {});
  /** @type {string[]} */
  const ids = (list.leases ?? [])
    .map((/** @type {any} */ l) => String(l.ID))
    .slice(0, MAX_DETAILED);
  const readAtMs = Date.now();
  const details = await Promise.all(
    ids.map(async (id) => {
      try {
        const r = await call("/v3/lease/timetolive", { ID: id, keys: true });
        return {
          id,
          ttlSeconds: Number(r.TTL ?? 0),
          grantedSeconds: Number(r.grantedTTL ?? 0),
          keys: (r.keys ?? []).map(text),
          expiresAtMs: readAtMs + Number(r.TTL ?? 0) * 1000,
          error: undefined,
        };
      } catch (error) {
        return { id, ttlSeconds: 0, grantedSeconds: 0, keys: [], expiresAtMs: readAtMs, error };
      }
    }),
  );
  return { total: (list.leases ?? []).length, leases: details };
}

/** Re-renders every `ms` so countdowns move between refreshes. */
function useTick(ms) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function LeasesView() {
  const { data, error } = usePoll(loadLeases, 2000);
  const now = useTick(250);
  if (data === undefined)
    return html`<p class="muted">${error ? errorText({ error }) : "Loading…"}</p>`;
  return html`
    <section>
      <h2>Leases <span class="count" data-testid="lease-count">${data.total}</span></h2>
      ${error && html`<p class="error">${errorText({ error })}</p>`}
      ${data.total > data.leases.length && html`<p class="muted">Showing the first ${data.leases.length}.</p>`}
      <table data-testid="lease-table">
        <thead><tr><th>ID</th><th>Remaining</th><th>Granted TTL</th><th>Attached keys</th></tr></thead>
        <tbody>
          ${data.leases.map(
            (l) => html`<tr data-testid="lease-row" data-lease=${l.id}>
              <td>${l.id}</td>
              <td data-testid="lease-remaining">${
                l.error
                  ? html`<span class="error">${errorText({ error: l.error })}</span>`
                  : `${Math.max(0, Math.ceil((l.expiresAtMs - now) / 1000))} s`
              }</td>
              <td>${l.grantedSeconds} s</td>
              <td>${
                l.keys.length === 0
                  ? html`<span class="muted">none</span>`
                  : html`<ul class="plain">
                ${l.keys.map((k) => html`<li data-testid="lease-key"><code>${k}</code></li>`)}</ul>`
              }</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </section>
  `;
}
