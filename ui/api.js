/**
 * The dashboard's only way to the cluster: the member's public HTTP API,
 * called with the signed-in user's token. Nothing here bypasses auth.
 */

const TOKEN_KEY = "conclave.dashboard.token";

/** An answer other than 2xx, with the API's stable error code. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @type {() => void} */
let unauthorized = () => {};

/** @param {() => void} handler called when the API refuses the token (401) */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/** @returns {string | undefined} */
export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

/** @param {string | undefined} token */
export function setToken(token) {
  if (token === undefined) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** @param {boolean} json */
function headers(json) {
  /** @type {Record<string, string>} */
  const h = {};
  if (json) h["content-type"] = "application/json";
  const token = getToken();
  if (token !== undefined) h.authorization = token;
  return h;
}

/** @param {Response} res */
async function failure(res) {
  let code = `HTTP_${res.status}`;
  let message = res.statusText;
  try {
    const body = await res.json();
    if (typeof body.code === "string") code = body.code;
    if (typeof body.message === "string") message = body.message;
  } catch {
    // Not JSON: the status says enough.
  }
  if (res.status === 401) {
    setToken(undefined);
    unauthorized();
  }
  return new ApiError(res.status, code, message);
}

/**
 * POSTs a JSON body (or GETs when `body` is undefined) and answers the JSON reply.
 * @param {string} path
 * @param {unknown} [body]
 * @param {{ signal?: AbortSignal }} [options]
 * @returns {Promise<any>}
 */
export async function call(path, body, options = {}) {
  const res = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: options.signal ?? AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw await failure(res);
  return res.json();
}

/**
 * Server-sent events from a route, read with fetch so the token can go in a header.
 * @param {string} path
 * @param {{ body?: unknown, signal: AbortSignal }} options
 * @returns {AsyncGenerator<{ event: string, data: any }>}
 */
export async function* events(path, options) {
  const res = await fetch(path, {
    method: options.body === undefined ? "GET" : "POST",
    headers: headers(options.body !== undefined),
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: options.signal,
  });
  if (!res.ok || res.body === null) throw await failure(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    for (let end = buffered.indexOf("\n\n"); end !== -1; end = buffered.indexOf("\n\n")) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let text = colon === -1 ? "" : line.slice(colon + 1);
        if (text.startsWith(" ")) text = text.slice(1);
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
      if (data.length > 0) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** @param {Uint8Array} bytes */
export function bytesToBase64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** @param {string} b64 */
export function base64ToBytes(b64) {
  const s = atob(b64 ?? "");
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** @param {string} text */
export function b64(text) {
  return bytesToBase64(encoder.encode(text));
}

/** @param {string | undefined} b64text */
export function text(b64text) {
  return decoder.decode(base64ToBytes(b64text ?? ""));
}

/**
 * The end of the range of every key starting with `prefix` (etcd's convention);
 * for the empty prefix, "\0": every key.
 * @param {string} prefix
 */
export function prefixRangeEnd(prefix) {
  const end = encoder.encode(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i] += 1;
      return bytesToBase64(end.subarray(0, i + 1));
    }
  }
  return bytesToBase64(new Uint8Array([0]));
}

/**
 * Every key under a prefix, a page at a time (at most `maxKeys`).
 * @param {string} prefix
 * @param {number} [maxKeys]
 * @returns {Promise<{ kvs: any[], revision: number }>}
 */
export async function rangePrefix(prefix, maxKeys = 1000) {
  const rangeEnd = prefixRangeEnd(prefix);
  let key = prefix === "" ? bytesToBase64(new Uint8Array([0])) : b64(prefix);
  /** @type {any[]} */
  const kvs = [];
  let revision = 0;
  for (;;) {
    const r = await call("/v3/kv/range", {
      key,
      range_end: rangeEnd,
      limit: String(Math.min(500, maxKeys - kvs.length)),
      ...(revision > 0 && { revision: String(revision) }),
    });
    revision = Number(r.header?.revision ?? 0);
    kvs.push(...(r.kvs ?? []));
    if (r.more !== true || kvs.length >= maxKeys || (r.kvs ?? []).length === 0) break;
    key = r.next_key ?? nextKey(kvs[kvs.length - 1].key);
  }
  return { kvs, revision };
}

/**
 * The smallest key after `b64key`: the key with a zero byte appended.
 * @param {string} b64key
 */
export function nextKey(b64key) {
  const k = base64ToBytes(b64key);
  const next = new Uint8Array(k.length + 1);
  next.set(k);
  return bytesToBase64(next);
}
