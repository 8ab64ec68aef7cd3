// The details of one torrent, in tabs: general, files (with priorities),
// peers, trackers and pieces. Refreshed every two seconds while open.

import * as api from "./api.js";
import * as fmt from "./format.js";
import * as trackerTab from "./trackers.js";
import * as categories from "./categories.js";

const $ = (id) => document.getElementById(id);
const TABS = ["general", "files", "peers", "trackers", "pieces"];
const PRIORITIES = [[0, "skip"], [2, "low"], [4, "normal"], [6, "high"]];

let hash = null;
let busy = false;
/** The last details read, drawn again when another tab is chosen. */
let last = null;
let tab = "general";
const DRAW = { general: (d) => general(d), files: (d) => files(d), peers: (d) => peers(d), trackers: (d) => trackers(d), pieces: (d) => pieces(d) };
let notify = () => {};
/** Stream URLs (with their tokens) of the torrent they were read for. */
let streams = { of: null, files: [] };

const cell = (text, cls) => {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
};

/** Wires the tabs and the refresh timer. */
export function setup(report) {
  notify = report;
  for (const name of TABS) $("tab-" + name).addEventListener("click", () => show(name));
  $("tabs").addEventListener("keydown", (e) => {
    // Arrow keys move between tabs, as the ARIA tabs pattern has it.
    const i = TABS.findIndex((n) => $("tab-" + n).getAttribute("aria-selected") === "true");
    const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    const next = TABS[(i + step + TABS.length) % TABS.length];
    show(next);
    $("tab-" + next).focus();
  });
  $("detail-close").addEventListener("click", close);
  $("player-close").addEventListener("click", stopPlayer);
  $("options").addEventListener("submit", (e) => {
    e.preventDefault();
    if (hash) saveOptions(hash);
  });
  $("reannounce").addEventListener("click", () => {
    if (hash) api.send("POST", "/torrents/" + hash + "/reannounce").then(() => notify("announcing"), (e) => notify(e.message, true));
  });
  trackerTab.setup(report, load);
  setInterval(load, 2000);
}

/** Plays a file's stream in the files tab's `<video>` or `<audio>`. */
function play(kind, url, name) {
  stopPlayer();
  const el = $(kind === "video" ? "player-video" : "player-audio");
  el.src = url;
  el.hidden = false;
  $("player-name").textContent = name;
  $("player").hidden = false;
  el.play().catch(() => {}); // a browser may want a gesture first; controls remain
}

/** Stops and hides the player (its stream request ends with it). */
function stopPlayer() {
  for (const id of ["player-video", "player-audio"]) {
    const el = $(id);
    el.pause();
    el.removeAttribute("src");
    el.load();
    el.hidden = true;
  }
  $("player").hidden = true;
}

/** Opens the details of a torrent. */
export function open(h) {
  if (h !== hash) { last = null; stopPlayer(); }
  hash = h;
  $("detail").hidden = false;
  load().then(() => $("detail").scrollIntoView({ block: "nearest" }));
}

/** Closes the details. */
export function close() {
  stopPlayer();
  hash = null;
  last = null;
  $("detail").hidden = true;
}

/** Closes the details if their torrent is gone. */
export function forget(known) {
  if (hash && !known.has(hash)) close();
}

function show(name) {
  tab = name;
  if (last) DRAW[name](last);
  for (const n of TABS) {
    const on = n === name;
    $("tab-" + n).setAttribute("aria-selected", String(on));
    $("tab-" + n).tabIndex = on ? 0 : -1;
    $("panel-" + n).hidden = !on;
  }
}

async function load() {
  if (!hash || busy) return;
  busy = true;
  try {
    const d = await api.get("/torrents/" + hash);
    if (!d) { close(); return; }
    if (d.info_hash !== hash) return;
    // The options form is filled once per torrent, not under the user's typing.
    if (!last) fillOptions(d);
    last = d;
    $("detail-name").textContent = d.name;
    // Only the tab in view is drawn (a torrent may have thousands of files).
    if (tab === "files" && streams.of !== d.info_hash) {
      const s = await api.get("/torrents/" + d.info_hash + "/streams");
      streams = { of: d.info_hash, files: (s && s.files) || [] };
    }
    DRAW[tab](d);
  } catch (e) {
    notify(e.message, true);
  } finally {
    busy = false;
  }
}

function general(d) {
  const rows = [
    ["Status", fmt.status(d)],
    ["Progress", fmt.percent(d.progress) + " of " + fmt.bytes(d.size_when_done) + (d.size_when_done !== d.total_size ? " wanted (" + fmt.bytes(d.total_size) + " in all)" : "")],
    ["Downloaded", fmt.bytes(d.downloaded)],
    ["Uploaded", fmt.bytes(d.uploaded) + " (ratio " + fmt.ratio(d.ratio) + ")"],
    ["Rates", "↓ " + fmt.rate(d.download_rate) + " · ↑ " + fmt.rate(d.upload_rate)],
    ["ETA", fmt.eta(d.eta, d)],
    // `peers` here is the list (the summary's count is shadowed by it).
    ["Peers", String(d.peers.length)],
    ["Location", d.download_dir],
    ["Labels", d.labels.join(", ") || "–"],
    ["Category", d.category || "–"],
    ["Added", fmt.date(d.added_at)],
    ["Completed", fmt.date(d.done_at)],
    ["Info-hash", d.info_hash],
    ["Pieces", d.pieces_have + " of " + d.pieces_total + " × " + fmt.bytes(d.piece_size)],
    ["Seed limits", (d.seed_ratio_limit === null ? "no ratio limit" : "ratio " + d.seed_ratio_limit) + ", " + (d.seed_idle_limit === null ? "no idle limit" : "idle " + Math.round(d.seed_idle_limit / 60) + " min")],
    ["Private", d.private ? "yes" : "no"],
    ["Comment", d.comment || "–"],
    ["Magnet", d.magnet || "–"],
    ...subscriptionRows(d.subscription),
  ];
  $("general").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    return [dt, dd];
  }));
}

/** The BEP 46 key a torrent follows, if it was added by a urn:btpk link. */
function subscriptionRows(s) {
  if (!s) return [];
  return [
    ["Follows key", s.public_key + (s.salt ? " (salt " + s.salt + ")" : "") + ", seq " + s.seq],
    ["Key checked", fmt.date(s.checked_at) + ", next " + fmt.date(s.next_check_at) + (s.updated_at ? ", updated " + fmt.date(s.updated_at) : "")],
    ["Key error", s.error || "–"],
  ];
}

function fillOptions(d) {
  $("opt-down").value = d.max_download ? Math.round(d.max_download / 1024) : 0;
  $("opt-up").value = d.max_upload ? Math.round(d.max_upload / 1024) : 0;
  $("opt-labels").value = d.labels.join(", ");
  $("opt-sequential").checked = d.sequential;
  categories.fillSelect($("opt-category"), d.category).catch((e) => notify(e.message, true));
}

async function saveOptions(h) {
  const kib = (id) => Math.max(0, Math.round(Number($(id).value) || 0)) * 1024;
  const body = {
    max_download: kib("opt-down"),
    max_upload: kib("opt-up"),
    labels: $("opt-labels").value.split(",").map((s) => s.trim()).filter(Boolean),
    sequential: $("opt-sequential").checked,
    category: $("opt-category").value,
  };
  try {
    await api.send("PATCH", "/torrents/" + h, body);
    notify("options saved");
  } catch (e) {
    notify(e.message, true);
  }
}

function files(d) {
  const body = $("files").querySelector("tbody");
  const focused = body.contains(document.activeElement);
  if (focused) return; // leave a priority being chosen alone
  body.replaceChildren(...d.files.map((f) => {
    const tr = document.createElement("tr");
    const name = cell(f.name, "name");
    const stream = streams.files.find((x) => x.index === f.index);
    if (stream && d.status !== "stopped") {
      // Opens in the browser while it downloads.
      const a = document.createElement("a");
      a.href = stream.url; a.target = "_blank"; a.textContent = " ↗"; a.title = "stream"; a.className = "stream";
      name.append(a);
      const kind = (stream.content_type || "").split("/")[0];
      if (kind === "video" || kind === "audio") {
        // Plays here, seeking by range requests while it downloads.
        const b = document.createElement("button");
        b.type = "button"; b.textContent = "▶"; b.className = "play";
        b.setAttribute("aria-label", "Play " + f.name);
        b.addEventListener("click", () => play(kind, stream.url, f.name));
        name.append(" ", b);
      }
    }
    tr.append(name, cell(fmt.bytes(f.length)), cell(f.length ? fmt.percent(f.bytes_completed / f.length) : "100.0%"));
    const sel = document.createElement("select");
    sel.setAttribute("aria-label", "Priority of " + f.name);
    const near = PRIORITIES.reduce((a, b) => (Math.abs(b[0] - f.priority) < Math.abs(a[0] - f.priority) ? b : a));
    for (const [v, label] of PRIORITIES) sel.append(new Option(label, v, false, v === near[0]));
    sel.addEventListener("change", () => api.send("PATCH", "/torrents/" + d.info_hash, { files: [{ index: f.index, priority: Number(sel.value) }] })
      .then(() => notify("priority of " + f.name + ": " + sel.selectedOptions[0].text), (e) => notify(e.message, true)));
    const td = document.createElement("td");
    td.append(sel);
    tr.append(td);
    return tr;
  }));
  if (d.files_total > d.files.length) {
    // The API pages a torrent's files; the first page is shown.
    const tr = document.createElement("tr");
    tr.append(cell("… and " + (d.files_total - d.files.length) + " more files"));
    body.append(tr);
  }
}

function peers(d) {
  $("peers-none").hidden = d.peers.length > 0;
  $("peers").querySelector("tbody").replaceChildren(...d.peers.map((p) => {
    const tr = document.createElement("tr");
    const flags = p.flags + (p.encrypted ? " 🔒" : "");
    tr.append(cell(p.address), cell(p.client || "?", "client"), cell(flags), cell(fmt.rate(p.download_rate)), cell(fmt.rate(p.upload_rate)), cell(fmt.percent(p.progress)));
    tr.title = "from " + p.source + (p.incoming ? ", incoming" : "") + ", connected " + p.connected_secs + " s";
    return tr;
  }));
}

function trackers(d) {
  trackerTab.draw(d);
  webSeeds(d);
}

function webSeeds(d) {
  const seeds = d.web_seeds || [];
  $("webseeds-title").hidden = seeds.length === 0;
  $("webseeds").replaceChildren(...seeds.map((w) => {
    const li = document.createElement("li");
    let text = w.url + " · " + fmt.bytes(w.downloaded);
    if (w.banned) text += " · banned: sent bad data";
    else if (w.sending) text += " · sending";
    else if (w.failures) text += " · failing: " + (w.last_error || "");
    li.textContent = text;
    return li;
  }));
}

function pieces(d) {
  $("pieces-info").textContent = d.pieces_have + " of " + d.pieces_total + " pieces";
  const canvas = $("pieces");
  const width = Math.max(100, Math.floor(canvas.clientWidth || 800));
  if (canvas.width !== width) canvas.width = width;
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, n = d.pieces_total;
  const css = getComputedStyle(document.documentElement);
  ctx.fillStyle = css.getPropertyValue("--rule").trim() || "#e5e8eb";
  ctx.fillRect(0, 0, w, h);
  if (!n) return;
  const raw = atob(d.pieces || "");
  const complete = d.left_until_done === 0 && d.pieces_have === n;
  ctx.fillStyle = css.getPropertyValue("--accent").trim() || "#1f6feb";
  for (let x = 0; x < w; x++) {
    const first = Math.floor(x * n / w), last = Math.max(first, Math.floor((x + 1) * n / w) - 1);
    let have = 0;
    for (let p = first; p <= last; p++) if (complete || (raw.charCodeAt(p >> 3) & (0x80 >> (p & 7)))) have++;
    if (have) { ctx.globalAlpha = have / (last - first + 1); ctx.fillRect(x, 0, 1, h); }
  }
  ctx.globalAlpha = 1;
}
