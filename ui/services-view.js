import { rangePrefix, text } from "./api.js";
import { html } from "./html.js";
import { errorText, usePoll } from "./poll.js";

/** The registry's default layout: `<root>services/<service>/<id>` holds each instance record. */
const INSTANCES_PREFIX = "/conclave/registry/services/";

/** @param {any[]} kvs */
function instances(kvs) {
  const out = [];
  for (const kv of kvs) {
    const rest = text(kv.key).slice(INSTANCES_PREFIX.length);
    const slash = rest.indexOf("/");
    if (slash <= 0 || rest.indexOf("/", slash + 1) !== -1) continue;
    /** @type {any} */
    let record = {};
    let malformed = false;
    try {
      record = JSON.parse(text(kv.value));
    } catch {
      malformed = true;
    }
    out.push({
      service: rest.slice(0, slash),
      id: rest.slice(slash + 1),
      record,
      malformed,
      lease: kv.lease ?? "",
    });
  }
  return out.sort((a, b) => `${a.service}/${a.id}`.localeCompare(`${b.service}/${b.id}`));
}

export function ServicesView() {
  const { data, error } = usePoll(() => rangePrefix(INSTANCES_PREFIX), 2000);
  const list = data === undefined ? [] : instances(data.kvs);
  const services = new Set(list.map((i) => i.service));
  return html`
    <section>
      <h2>Services <span class="count" data-testid="service-count">${services.size}</span></h2>
      ${error && html`<p class="error">${errorText({ error })}</p>`}
      ${data && list.length === 0 && html`<p class="muted">No service instance is registered.</p>`}
      <table data-testid="service-table">
        <thead><tr><th>Service</th><th>Instance</th><th>Address</th><th>Status</th><th>Weight</th><th>Kind</th><th>Lease</th><th>Metadata</th></tr></thead>
        <tbody>
          ${list.map(
            (
              i,
            ) => html`<tr data-testid="service-row" data-service=${i.service} data-status=${i.record.status ?? ""}>
              <td>${i.service}</td><td>${i.id}</td>
              <td>${i.malformed ? html`<span class="error">malformed record</span>` : `${i.record.address}:${i.record.port}`}</td>
              <td class=${`health ${i.record.status ?? ""}`}>${i.record.status ?? "—"}</td>
              <td>${i.record.weight ?? "—"}</td>
              <td>${i.record.persistent ? "persistent" : "ephemeral"}</td>
              <td>${i.lease}</td>
              <td><code>${JSON.stringify(i.record.metadata ?? {})}</code></td>
            </tr>`,
          )}
        </tbody>
      </table>
    </section>
  `;
}
