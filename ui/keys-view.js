import { useEffect, useState } from "preact/hooks";
import { b64, bytesToBase64, call, events, nextKey, prefixRangeEnd, text } from "./api.js";
import { html } from "./html.js";
import { errorText } from "./poll.js";

const PAGE_SIZE = 50;
/** Versions of one key the history view walks back through at most. */
const MAX_HISTORY = 50;
const MAX_WATCH_EVENTS = 100;

/** @param {string | undefined} b64value */
function preview(b64value) {
  const t = text(b64value);
  return t.length > 120 ? `${t.slice(0, 120)}…` : t;
}

/**
 * A key's earlier versions: each read at the revision before the last one's
 * mod_revision, back to the version that created it, or to compaction.
 * @param {string} key base64
 */
async function keyHistory(key) {
  /** @type {any[]} */
  const versions = [];
  let note = "";
  const now = await call("/v3/kv/range", { key });
  let kv = now.kvs?.[0];
  if (kv === undefined)
    return { versions, note: "The key does not exist at the current revision." };
  while (kv !== undefined && versions.length < MAX_HISTORY) {
    versions.push(kv);
    if (Number(kv.version ?? 0) <= 1) break;
    try {
      const r = await call("/v3/kv/range", { key, revision: String(Number(kv.mod_revision) - 1) });
      kv = r.kvs?.[0];
    } catch (err) {
      if (/** @type {any} */ (err).code === "KV_COMPACTED") {
        note = "Older versions were compacted away.";
        break;
      }
      throw err;
    }
  }
  return { versions, note };
}

/** @param {{ keyB64: string }} props */
function KeyHistory({ keyB64 }) {
  const [state, setState] = useState(/** @type {any} */ ({ loading: true }));
  useEffect(() => {
    setState({ loading: true });
    keyHistory(keyB64).then(
      (h) => setState(h),
      (error) => setState({ error }),
    );
  }, [keyB64]);
  if (state.loading) return html`<p class="muted">Reading history…</p>`;
  if (state.error) return html`<p class="error">${errorText({ error: state.error })}</p>`;
  return html`
    <table data-testid="history">
      <thead><tr><th>Version</th><th>Mod revision</th><th>Create revision</th><th>Lease</th><th>Value</th></tr></thead>
      <tbody>
        ${state.versions.map(
          (/** @type {any} */ kv) => html`<tr data-testid="history-row">
            <td>${kv.version}</td><td>${kv.mod_revision}</td><td>${kv.create_revision}</td>
            <td>${kv.lease ?? "—"}</td><td class="value">${preview(kv.value)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${state.note && html`<p class="muted">${state.note}</p>`}
  `;
}

/** @param {{ prefix: string }} props */
function PrefixWatch({ prefix }) {
  const [items, setItems] = useState(/** @type {any[]} */ ([]));
  const [error, setError] = useState("");
  // The stream is open on the server: changes from here on are shown.
  const [started, setStarted] = useState(false);
  useEffect(() => {
    const controller = new AbortController();
    setItems([]);
    setError("");
    setStarted(false);
    (async () => {
      try {
        const body = {
          key: prefix === "" ? bytesToBase64(new Uint8Array([0])) : b64(prefix),
          range_end: prefixRangeEnd(prefix),
        };
        for await (const m of events("/v3/watch", { body, signal: controller.signal })) {
          if (m.event === "created") {
            setStarted(true);
          } else if (m.event === "events") {
            const rev = m.data.header?.revision;
            const got = (m.data.events ?? []).map((/** @type {any} */ e) => ({ ...e, rev }));
            setItems((old) => [...got.reverse(), ...old].slice(0, MAX_WATCH_EVENTS));
          } else if (m.event === "error") {
            setError(`${m.data.code}: ${m.data.message}`);
          }
        }
      } catch (err) {
        if (!controller.signal.aborted) setError(errorText({ error: /** @type {Error} */ (err) }));
      }
    })();
    return () => controller.abort();
  }, [prefix]);
  return html`
    <h3>Live changes under “${prefix}”</h3>
    ${error && html`<p class="error">${error}</p>`}
    ${
      items.length === 0 &&
      html`<p class="muted">${started ? "Waiting for changes…" : "Starting the watch…"}</p>`
    }
    <ul class="events" data-testid="watch-events">
      ${items.map(
        (e) => html`<li data-testid="watch-event">
          <span class=${`tag ${e.type === "DELETE" ? "warn" : "ok"}`}>${e.type}</span>
          <code>${text(e.kv?.key)}</code> at revision ${e.kv?.mod_revision ?? e.rev}
          ${e.type !== "DELETE" && html` = <span class="value">${preview(e.kv?.value)}</span>`}
        </li>`,
      )}
    </ul>
  `;
}

export function KeysView() {
  const [draft, setDraft] = useState("");
  const [prefix, setPrefix] = useState("");
  /** Where each page shown so far started (base64 keys). */
  const [starts, setStarts] = useState(/** @type {string[]} */ ([]));
  const [page, setPage] = useState(/** @type {any} */ (undefined));
  const [error, setError] = useState(/** @type {Error | undefined} */ (undefined));
  const [selected, setSelected] = useState(/** @type {string | undefined} */ (undefined));
  const [watching, setWatching] = useState(false);

  const first = prefix === "" ? bytesToBase64(new Uint8Array([0])) : b64(prefix);
  const start = starts[starts.length - 1] ?? first;
  useEffect(() => {
    let live = true;
    call("/v3/kv/range", { key: start, range_end: prefixRangeEnd(prefix), limit: PAGE_SIZE })
      .then((r) => {
        if (!live) return;
        setPage({ ...r, prefix });
        setError(undefined);
      })
      .catch((err) => live && setError(err));
    return () => {
      live = false;
    };
  }, [prefix, start]);

  /** @type {any[]} */
  const kvs = page?.kvs ?? [];
  /** @param {Event} e */
  const browse = (e) => {
    e.preventDefault();
    setPrefix(draft);
    setStarts([]);
    setSelected(undefined);
  };
  const next = () => setStarts((s) => [...s, page.next_key ?? nextKey(kvs[kvs.length - 1].key)]);
  const previous = () => setStarts((s) => s.slice(0, -1));
  return html`
    <section>
      <h2>Keys</h2>
      <form class="inline" onSubmit=${browse}>
        <label>Prefix <input data-testid="key-prefix" value=${draft}
          onInput=${(/** @type {any} */ e) => setDraft(e.currentTarget.value)} /></label>
        <button type="submit" data-testid="key-browse">Browse</button>
        <button type="button" data-testid="key-watch" onClick=${() => setWatching((w) => !w)}>
          ${watching ? "Stop watching" : "Watch prefix"}</button>
      </form>
      ${error && html`<p class="error">${errorText({ error })}</p>`}
      ${page && html`<p class="muted">At revision ${page.header?.revision}, ${page.count ?? 0} keys under the prefix.</p>`}
      <table data-testid="key-table" data-prefix=${page?.prefix}>
        <thead><tr><th>Key</th><th>Value</th><th>Version</th><th>Mod revision</th><th>Lease</th></tr></thead>
        <tbody>
          ${kvs.map(
            (kv) => html`<tr data-testid="key-row" class=${kv.key === selected ? "selected" : ""}>
              <td><button type="button" class="link" data-testid="key-link"
                onClick=${() => setSelected(kv.key)}>${text(kv.key)}</button></td>
              <td class="value">${preview(kv.value)}</td>
              <td>${kv.version}</td><td>${kv.mod_revision}</td><td>${kv.lease ?? "—"}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <div class="pager">
        <button type="button" disabled=${starts.length === 0} onClick=${previous}>Previous</button>
        <button type="button" data-testid="key-next" disabled=${page?.more !== true} onClick=${next}>Next</button>
      </div>
    </section>
    ${
      selected !== undefined &&
      html`<section>
      <h2>History of <code data-testid="history-key">${text(selected)}</code></h2>
      <${KeyHistory} keyB64=${selected} />
    </section>`
    }
    ${watching && html`<section><${PrefixWatch} prefix=${prefix} /></section>`}
  `;
}
