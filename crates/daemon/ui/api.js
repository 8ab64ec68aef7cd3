// The daemon's JSON API (/api/v1): reads are plain GETs; every change
// carries the CSRF token from GET /api/v1/session.

let csrf = "";

/** Reads the session (settings and the CSRF token). */
export async function session() {
  const s = await get("/session");
  csrf = s.csrf_token;
  return s;
}

/** GET a JSON document; null for a 404. */
export async function get(path) {
  const resp = await fetch("/api/v1" + path);
  if (resp.status === 404) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(message(data, resp));
  return data;
}

/**
 * Sends a change; throws an Error with the daemon's message on failure.
 * A restarted daemon has a new CSRF token: a refusal for the token is
 * retried once with a fresh one.
 */
export async function send(method, path, body, retried = false) {
  const opts = { method, headers: { "X-Shoal-Csrf": csrf } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch("/api/v1" + path, opts);
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 403 && data.error && data.error.code === "csrf" && !retried) {
    await session();
    return send(method, path, body, true);
  }
  if (!resp.ok) throw new Error(message(data, resp));
  return data;
}

function message(data, resp) {
  return (data.error && data.error.message) || resp.statusText || "HTTP " + resp.status;
}

/**
 * Runs `action` on every hash, a few at a time (so a bulk action on
 * thousands of torrents neither floods the daemon nor takes forever).
 * Resolves to the error messages, empty when all went well.
 */
export async function each(hashes, action, parallel = 6) {
  const queue = [...hashes];
  const errors = [];
  const worker = async () => {
    while (queue.length) {
      const h = queue.shift();
      try { await action(h); } catch (e) { errors.push(e.message); }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, worker));
  return errors;
}

/** Follows the live torrent list (server-sent events): the full list on
 * connect (`torrents`), then the changed and removed torrents (`delta`),
 * merged here so the caller still gets the whole list, in id order. */
export function follow(onTorrents, onState) {
  const es = new EventSource("/api/v1/events");
  const byId = new Map();
  let pending = false;
  let live = false;
  let used = 0;
  const changed = () => {
    live = true;
    onState("live");
    // Used in a task of its own; updates that arrive before the previous
    // one was used are merged into it.
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      used = performance.now();
      onTorrents([...byId.values()].sort((a, b) => a.id - b.id));
    }, 0);
  };
  // Quiet torrents send nothing: the list is still handed on once a second
  // (the totals and the speed graph tick with time, not with changes).
  setInterval(() => { if (live && performance.now() - used >= 1000) changed(); }, 1000);
  es.addEventListener("torrents", (ev) => {
    byId.clear();
    for (const t of JSON.parse(ev.data)) byId.set(t.id, t);
    changed();
  });
  es.addEventListener("delta", (ev) => {
    const d = JSON.parse(ev.data);
    for (const t of d.changed) byId.set(t.id, t);
    for (const id of d.removed) byId.delete(id);
    changed();
  });
  es.onerror = () => { live = false; onState("reconnecting…"); };
  return es;
}
