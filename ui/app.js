import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { call, getToken, onUnauthorized, setToken } from "./api.js";
import { useClusterEvents } from "./cluster-events.js";
import { ClusterView } from "./cluster-view.js";
import { html } from "./html.js";
import { KeysView } from "./keys-view.js";
import { LeasesView } from "./leases-view.js";
import { LocksView } from "./locks-view.js";
import { LoginForm } from "./login-form.js";
import { RingView } from "./ring-view.js";
import { ServicesView } from "./services-view.js";

const VIEWS = [
  { id: "cluster", title: "Cluster", view: ClusterView },
  { id: "keys", title: "Keys", view: KeysView },
  { id: "leases", title: "Leases", view: LeasesView },
  { id: "locks", title: "Locks & elections", view: LocksView },
  { id: "services", title: "Services", view: ServicesView },
  { id: "ring", title: "Hash ring", view: RingView },
];

function viewFromHash() {
  const id = location.hash.replace(/^#/, "");
  return VIEWS.some((v) => v.id === id) ? id : "cluster";
}

function App() {
  const [authEnabled, setAuthEnabled] = useState(/** @type {boolean | undefined} */ (undefined));
  const [statusError, setStatusError] = useState("");
  const [token, setTokenState] = useState(getToken());
  const [viewId, setViewId] = useState(viewFromHash());

  useEffect(() => {
    onUnauthorized(() => {
      setAuthEnabled(true);
      setTokenState(undefined);
    });
    call("/v3/auth/status", {})
      .then((s) => setAuthEnabled(s.enabled === true))
      .catch((err) => setStatusError(String(err.message)));
    const onHash = () => setViewId(viewFromHash());
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);

  if (statusError !== "") {
    return html`<p class="error" data-testid="fatal">This member did not answer: ${statusError}</p>`;
  }
  if (authEnabled === undefined) return html`<p class="muted">Connecting…</p>`;
  if (authEnabled && token === undefined) {
    return html`<${LoginForm}
      onToken=${(/** @type {string} */ t) => {
        setToken(t);
        setTokenState(t);
      }}
    />`;
  }
  const signOut = () => {
    setToken(undefined);
    setTokenState(undefined);
  };
  return html`<${Dashboard} viewId=${viewId} authEnabled=${authEnabled} onSignOut=${signOut} />`;
}

/**
 * The views, once signed in (or without auth). The cluster event stream is
 * followed here rather than in the cluster view, so its timeline outlives a
 * visit to another view.
 * @param {{ viewId: string, authEnabled: boolean, onSignOut: () => void }} props
 */
function Dashboard({ viewId, authEnabled, onSignOut }) {
  const live = useClusterEvents();
  const current = VIEWS.find((v) => v.id === viewId) ?? VIEWS[0];
  return html`
    <header>
      <h1>Conclave</h1>
      <nav>
        ${VIEWS.map(
          (v) =>
            html`<a
              href=${`#${v.id}`}
              class=${v.id === current.id ? "active" : ""}
              data-testid=${`nav-${v.id}`}
              >${v.title}</a
            >`,
        )}
      </nav>
      ${authEnabled && html`<button type="button" class="link" onClick=${onSignOut}>Sign out</button>`}
    </header>
    <main data-testid=${`view-${current.id}`}>
      <${current.view} key=${current.id} live=${live} />
    </main>
  `;
}

render(html`<${App} />`, /** @type {HTMLElement} */ (document.getElementById("app")));
