import { useState } from "preact/hooks";
import { call } from "./api.js";
import { html } from "./html.js";

/**
 * Signs in with `/v3/auth/authenticate`; the token it answers is what every
 * later request carries.
 * @param {{ onToken: (token: string) => void }} props
 */
export function LoginForm({ onToken }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  /** @param {Event} e */
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const r = await call("/v3/auth/authenticate", { name, password });
      onToken(String(r.token));
    } catch (err) {
      setError(String(/** @type {Error} */ (err).message));
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="login" data-testid="login-form" onSubmit=${submit}>
      <h1>Conclave</h1>
      <p class="muted">Authentication is enabled on this cluster. Sign in to continue.</p>
      <label>User <input name="name" autocomplete="username" value=${name}
        onInput=${(/** @type {any} */ e) => setName(e.currentTarget.value)} required /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password"
        value=${password} onInput=${(/** @type {any} */ e) => setPassword(e.currentTarget.value)}
        required /></label>
      <button type="submit" disabled=${busy}>Sign in</button>
      ${error !== "" && html`<p class="error" data-testid="login-error">${error}</p>`}
    </form>
  `;
}
