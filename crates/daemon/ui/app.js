// shoal web UI: talks to /api/v1 (the torrent list from server-sent
// events, changes with the CSRF token from /api/v1/session). Plain ES
// modules, no libraries, no build step, nothing fetched from elsewhere.

import * as api from "./api.js";
import * as add from "./add.js";
import * as details from "./details.js";
import * as graph from "./graph.js";
import * as settings from "./settings.js";
import * as toolbar from "./toolbar.js";
import { bytes } from "./format.js";
import { TorrentList } from "./list.js";

const $ = (id) => document.getElementById(id);

function notify(text, isError) {
  const m = $("message");
  m.textContent = text;
  m.className = isError ? "error" : "";
}

const list = new TorrentList({
  header: $("list-head"),
  viewport: $("viewport"),
  spacer: $("spacer"),
  empty: $("empty"),
  onOpen: (hash) => details.open(hash),
  onAction: (action, hashes) => toolbar.bulk(action, hashes, notify),
  onChange: () => toolbar.update(list),
});

function torrents(all) {
  list.setTorrents(all);
  // The rest in a task of its own (see TorrentList.refresh).
  setTimeout(() => totals(all), 0);
}

function totals(all) {
  let down = 0, up = 0;
  for (const t of all) { down += t.download_rate; up += t.upload_rate; }
  $("totals").textContent = "↓ " + bytes(down) + "/s · ↑ " + bytes(up) + "/s · " + all.length + " torrents";
  graph.sample(down, up, performance.now());
  details.forget(new Set(all.map((t) => t.info_hash)));
}

/** "/" goes to the search box, Escape closes the details (outside text fields). */
function keys(e) {
  if (e.ctrlKey || e.metaKey || e.altKey || $("settings").open) return;
  if (e.target.closest && e.target.closest("input, textarea, select")) return;
  if (e.key === "/") { e.preventDefault(); $("search").focus(); }
  else if (e.key === "Escape") details.close();
}

async function start() {
  await api.session();
  add.setup(notify);
  toolbar.setup(list, notify);
  details.setup(notify);
  settings.setup(notify);
  document.addEventListener("keydown", keys);
  list.refresh();
  api.follow(torrents, (state) => { if ($("conn").textContent !== state) $("conn").textContent = state; });
}

start().catch((e) => notify("cannot reach the daemon: " + e.message, true));
