import { useState } from "preact/hooks";
import { rangePrefix, text } from "./api.js";
import { html } from "./html.js";
import { errorText, usePoll } from "./poll.js";

/** The lock recipes' default key prefix (ConclaveLockBackend's keyPrefix). */
const DEFAULT_PREFIX = "conclave/lock";

const KIND_TITLES = /** @type {Record<string, string>} */ ({
  mutex: "Lock",
  rw: "Read/write lock",
  sem: "Semaphore",
  election: "Election",
});

/**
 * The recipes' layout: one key per waiter or holder,
 * `<prefix>/<namespace>/<encoded name>/<kind>/<owner id>`, the queue ordered by
 * create_revision, which is also the holder's fencing token.
 * @param {string} prefix
 * @param {any[]} kvs
 */
export function lockQueues(prefix, kvs) {
  /** @type {Map<string, { namespace: string, name: string, entries: any[] }>} */
  const queues = new Map();
  for (const kv of kvs) {
    const key = text(kv.key);
    const parts = key.slice(prefix.length + 1).split("/");
    if (parts.length < 4) continue;
    const [namespace, encodedName, kind, ...owner] = parts;
    let name = encodedName;
    try {
      name = decodeURIComponent(encodedName);
    } catch {
      // Not written by the recipes; shown as it is.
    }
    const id = `${namespace}/${encodedName}`;
    if (!queues.has(id)) queues.set(id, { namespace, name, entries: [] });
    queues.get(id)?.entries.push({
      key,
      kind,
      owner: owner.join("/"),
      value: text(kv.value),
      createRevision: Number(kv.create_revision),
      lease: kv.lease ?? "",
    });
  }
  for (const q of queues.values()) {
    q.entries.sort((a, b) => a.createRevision - b.createRevision);
    markHolders(q.namespace, q.entries);
  }
  return [...queues.values()].sort((a, b) =>
    (a.namespace + a.name).localeCompare(b.namespace + b.name),
  );
}

/**
 * Who holds: the first entry of an exclusive queue; the readers ahead of the
 * first writer of a read/write lock. A semaphore's permit count is its
 * clients' setting, not in the keys, so only the order is shown.
 * @param {string} namespace
 * @param {any[]} entries sorted by create revision
 */
function markHolders(namespace, entries) {
  entries.forEach((e, i) => {
    e.position = i + 1;
    e.state = "waiting";
  });
  if (entries.length === 0) return;
  if (namespace === "sem") {
    for (const e of entries) e.state = "in queue";
    return;
  }
  if (namespace === "rw" && entries[0].kind === "read") {
    for (const e of entries) {
      if (e.kind !== "read") break;
      e.state = "holds";
    }
    return;
  }
  entries[0].state = namespace === "election" ? "leader" : "holds";
}

export function LocksView() {
  const [draft, setDraft] = useState(DEFAULT_PREFIX);
  const [prefix, setPrefix] = useState(DEFAULT_PREFIX);
  const { data, error } = usePoll(() => rangePrefix(`${prefix}/`), 1500, [prefix]);
  const queues = data === undefined ? [] : lockQueues(prefix, data.kvs);
  return html`
    <section>
      <h2>Locks, semaphores and elections</h2>
      <form class="inline" onSubmit=${(/** @type {Event} */ e) => {
        e.preventDefault();
        setPrefix(draft.replace(/\/+$/, ""));
      }}>
        <label>Key prefix <input data-testid="lock-prefix" value=${draft}
          onInput=${(/** @type {any} */ e) => setDraft(e.currentTarget.value)} /></label>
        <button type="submit">Show</button>
      </form>
      ${error && html`<p class="error">${errorText({ error })}</p>`}
      ${data && queues.length === 0 && html`<p class="muted">Nothing is held or awaited under ${prefix}/.</p>`}
      ${queues.map(
        (q) => html`<div class="queue" data-testid="lock-queue" data-name=${q.name}>
          <h3>${KIND_TITLES[q.namespace] ?? q.namespace} <code>${q.name}</code></h3>
          <table>
            <thead><tr><th>#</th><th>State</th><th>Kind</th><th>Owner</th><th>Fencing token</th><th>Lease</th><th>Value</th></tr></thead>
            <tbody>
              ${q.entries.map(
                (e) => html`<tr data-testid="lock-entry" data-state=${e.state}>
                  <td>${e.position}</td>
                  <td class=${e.state === "waiting" ? "muted" : "ok"}>${e.state}</td>
                  <td>${e.kind}</td><td><code>${e.owner}</code></td>
                  <td data-testid="fencing-token">${e.createRevision}</td>
                  <td>${e.lease}</td><td class="value">${e.value}</td>
                </tr>`,
              )}
            </tbody>
          </table>
        </div>`,
      )}
      <p class="muted">The fencing token is the entry key's create revision: the smallest in a queue holds.</p>
    </section>
  `;
}
