// The toolbar: search, state and label filters, and the bulk actions on
// the selected torrents.

import * as api from "./api.js";
import { STATES, NO_LABEL, labels } from "./columns.js";

const $ = (id) => document.getElementById(id);
const setText = (e, v) => { if (e.textContent !== v) e.textContent = v; };

/** Wires the filters to `list`; `notify(text, isError)` reports results. */
export function setup(list, notify) {
  const search = $("search");
  search.addEventListener("input", () => list.set({ text: search.value }));
  const state = $("filter-state");
  state.addEventListener("change", () => list.set({ state: state.value }));
  const label = $("filter-label");
  label.addEventListener("change", () => list.set({ label: label.value }));
  for (const b of document.querySelectorAll("[data-bulk]")) {
    b.addEventListener("click", () => bulk(b.dataset.bulk, list.selection().map((t) => t.info_hash), notify));
  }
}

/** Refreshes counts in the filters and the selection summary. */
export function update(list) {
  const state = $("filter-state");
  const counts = STATES.map((s) => list.torrents.filter(s.test).length);
  if (state.options.length !== STATES.length) {
    state.replaceChildren(...STATES.map((s) => new Option(s.label, s.key)));
    state.value = list.opts.state;
  }
  STATES.forEach((s, i) => {
    const text = s.label + " (" + counts[i] + ")";
    if (state.options[i].text !== text) state.options[i].text = text;
  });
  const label = $("filter-label");
  const names = labels(list.torrents);
  // The label filtered by stays a choice while no torrent carries it (as
  // before the first update, with a filter kept from the last visit).
  const chosen = list.opts.label;
  if (chosen && chosen !== NO_LABEL && !names.includes(chosen)) names.push(chosen);
  const want = ["", NO_LABEL, ...names].join("\n");
  if (label.dataset.names !== want) {
    label.dataset.names = want;
    label.replaceChildren(new Option("Any label", ""), new Option("No label", NO_LABEL), ...names.map((n) => new Option(n, n)));
    label.value = chosen;
  }
  const n = list.selected.size;
  setText($("selected-count"), n + " selected");
  for (const b of document.querySelectorAll("[data-bulk]")) if (b.disabled !== (n === 0)) b.disabled = n === 0;
}

/** Runs a bulk (or single-row) action on torrents by hash. */
export async function bulk(action, hashes, notify) {
  if (!hashes.length) return;
  const one = (path, method = "POST", body) => (h) => api.send(method, "/torrents/" + h + path, body);
  let run;
  let done = action;
  switch (action) {
    case "start": run = one("/start"); done = "started"; break;
    case "stop": run = one("/stop"); done = "stopped"; break;
    case "verify": run = one("/verify"); done = "verifying"; break;
    case "remove": {
      const data = $("bulk-delete-data").checked;
      const what = hashes.length === 1 ? "this torrent" : hashes.length + " torrents";
      if (!confirm("Remove " + what + (data ? " and delete the files?" : "? (data is kept)"))) return;
      run = one(data ? "?delete_data=true" : "", "DELETE");
      done = "removed";
      break;
    }
    case "label": {
      const names = $("bulk-label").value.split(",").map((s) => s.trim()).filter(Boolean);
      run = one("", "PATCH", { labels: names });
      done = names.length ? "labelled " + names.join(", ") : "unlabelled";
      break;
    }
    case "move": {
      const dir = $("bulk-dir").value.trim();
      if (!dir) { notify("type the directory to move to", true); return; }
      run = one("", "PATCH", { download_dir: dir });
      done = "moved to " + dir;
      break;
    }
    default: return;
  }
  const errors = await api.each(hashes, run);
  if (errors.length) notify(errors.length + " of " + hashes.length + " failed: " + errors[0], true);
  else notify(hashes.length + (hashes.length === 1 ? " torrent " : " torrents ") + done);
}
