// The trackers tab of the details: each tracker's announce state, and
// adding, editing and removing trackers (PATCH /torrents/{hash}/trackers).

import * as api from "./api.js";

const $ = (id) => document.getElementById(id);

/** The tracker being edited in place (its row is not redrawn meanwhile). */
let editing = null;
let current = null;
let notify = () => {};
let reload = () => {};

const cell = (text, cls) => {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
};

const button = (text, label, onClick, cls) => {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  if (cls) b.className = cls;
  b.addEventListener("click", onClick);
  return b;
};

async function edit(body, done) {
  if (!current) return;
  try {
    await api.send("PATCH", "/torrents/" + current + "/trackers", body);
    notify(done);
    editing = null;
    reload();
  } catch (e) {
    notify(e.message, true);
  }
}

/** Wires the add form; `refresh()` reloads the details after a change. */
export function setup(report, refresh) {
  notify = report;
  reload = refresh;
  $("tracker-add-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const urls = $("tracker-add-url").value.split(/\s+/).filter(Boolean);
    if (!urls.length) return;
    edit({ add: urls }, urls.length === 1 ? "tracker added" : urls.length + " trackers added")
      .then(() => { $("tracker-add-url").value = ""; });
  });
}

function editor(url) {
  const td = document.createElement("td");
  td.className = "name";
  const input = document.createElement("input");
  input.type = "text";
  input.value = url;
  input.className = "tracker-url";
  input.setAttribute("aria-label", "New URL of tracker " + url);
  const save = () => {
    const to = input.value.trim();
    if (!to || to === url) { editing = null; reload(); return; }
    edit({ replace: [{ from: url, to }] }, "tracker changed");
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); save(); }
    if (e.key === "Escape") { e.stopPropagation(); editing = null; reload(); }
  });
  td.append(input, button("Save", "Save tracker URL", save, "tracker-save"));
  queueMicrotask(() => input.focus());
  return td;
}

/** Draws the trackers of the details `d` (`force`: even while editing). */
export function draw(d, force = false) {
  if (current !== d.info_hash) editing = null;
  current = d.info_hash;
  // Not under the user's typing.
  if (!force && editing && $("trackers").contains(document.activeElement)) return;
  $("trackers-none").hidden = d.tracker_stats.length > 0;
  $("trackers").querySelector("tbody").replaceChildren(...d.tracker_stats.map((t) => {
    const tr = document.createElement("tr");
    tr.dataset.url = t.url;
    let state = "not yet";
    if (t.last_announce_ok === true) state = "ok, " + t.last_announce_peers + " peers";
    else if (t.last_announce_error) state = "failed: " + t.last_announce_error;
    const n = (v) => (v === null ? "?" : String(v));
    const actions = document.createElement("td");
    actions.className = "actions";
    actions.append(
      button("Edit", "Edit tracker " + t.url, () => { editing = t.url; draw(d, true); }, "tracker-edit"),
      button("✕", "Remove tracker " + t.url, () => edit({ remove: [t.url] }, "tracker removed"), "danger tracker-remove"),
    );
    const url = editing === t.url ? editor(t.url) : cell(t.url, "name");
    tr.append(cell(String(t.tier)), url, cell(state), cell(n(t.seeders)), cell(n(t.leechers)), actions);
    return tr;
  }));
}
