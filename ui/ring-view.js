import { useState } from "preact/hooks";
import { call } from "./api.js";
import { html } from "./html.js";
import { errorText, usePoll } from "./poll.js";

const COLORS = [
  "#2563eb",
  "#d97706",
  "#16a34a",
  "#db2777",
  "#7c3aed",
  "#0891b2",
  "#dc2626",
  "#65a30d",
];
const SIZE = 320;
const RADIUS = 130;
const TWO_POW_32 = 2 ** 32;

/** @param {number} position a point on the 2^32 circle */
function xy(position, r = RADIUS) {
  const angle = (position / TWO_POW_32) * 2 * Math.PI - Math.PI / 2;
  return { x: SIZE / 2 + r * Math.cos(angle), y: SIZE / 2 + r * Math.sin(angle) };
}

/**
 * The members on the consistent-hash ring `/v3/ring/lookup` builds
 * (conclave/hashring's virtual-node ring) and the owner of a typed key.
 */
export function RingView() {
  const [draft, setDraft] = useState("");
  const [key, setKey] = useState("");
  const { data, error } = usePoll(
    () => call("/v3/ring/lookup", { keys: key === "" ? [] : [key], points_per_member: 32 }),
    5000,
    [key],
  );
  if (data === undefined)
    return html`<p class="muted">${error ? errorText({ error }) : "Loading…"}</p>`;
  /** @type {any[]} */
  const members = data.members;
  const colorOf = (/** @type {string} */ name) =>
    COLORS[members.findIndex((m) => m.name === name) % COLORS.length] ?? "#888";
  const placed = data.keys[0];
  const marker = placed && xy(placed.position, RADIUS + 18);
  return html`
    <section>
      <h2>Hash ring</h2>
      <p class="muted">
        Each member owns ${data.points_per_member} points on a 2³² circle; a key belongs to
        the first point clockwise from its hash (murmur3).
      </p>
      <form class="inline" onSubmit=${(/** @type {Event} */ e) => {
        e.preventDefault();
        setKey(draft);
      }}>
        <label>Key <input data-testid="ring-key" value=${draft}
          onInput=${(/** @type {any} */ e) => setDraft(e.currentTarget.value)} /></label>
        <button type="submit" data-testid="ring-lookup">Find owner</button>
      </form>
      ${error && html`<p class="error">${errorText({ error })}</p>`}
      ${
        placed &&
        html`<p>
        <code>${placed.key}</code>${` hashes to ${placed.position} and belongs to `}
        <strong data-testid="ring-owner">${placed.owner ?? "nobody"}</strong>.
      </p>`
      }
      <div class="ring">
        <svg width=${SIZE} height=${SIZE} viewBox=${`0 0 ${SIZE} ${SIZE}`} role="img" aria-label="hash ring">
          <circle cx=${SIZE / 2} cy=${SIZE / 2} r=${RADIUS} fill="none" stroke="#cbd5e1" stroke-width="2" />
          ${members.flatMap((m) =>
            m.points.map((/** @type {number} */ p) => {
              const { x, y } = xy(p);
              return html`<circle cx=${x} cy=${y} r="4" fill=${colorOf(m.name)} />`;
            }),
          )}
          ${
            marker &&
            html`<circle data-testid="ring-marker" cx=${marker.x} cy=${marker.y} r="7"
            fill="none" stroke=${colorOf(placed.owner)} stroke-width="3" />`
          }
        </svg>
        <ul class="legend">
          ${members.map(
            (m) => html`<li><span class="swatch" data-color=${colorOf(m.name)}>
              <svg width="12" height="12"><rect width="12" height="12" fill=${colorOf(m.name)} /></svg>
            </span> ${m.name} (member ${m.id}${m.isLearner ? ", learner" : ""})</li>`,
          )}
        </ul>
      </div>
    </section>
  `;
}
