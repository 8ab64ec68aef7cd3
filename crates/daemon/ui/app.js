// shoal web UI: talks to /api/v1 (state from server-sent events, actions
// with the CSRF token from /api/v1/session). No libraries, no build step.
"use strict";

let csrf = "";
let selected = null;
let torrents = [];

const $ = (id) => document.getElementById(id);

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function eta(s) {
  if (s < 0) return "";
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
}

function message(text, isError) {
  const m = $("message");
  m.textContent = text;
  m.className = isError ? "error" : "";
}

async function api(method, path, body) {
  const opts = { method, headers: { "X-Shoal-Csrf": csrf } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch("/api/v1" + path, opts);
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error((data.error && data.error.message) || resp.statusText);
  return data;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function button(label, action, cls) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset.action = label.toLowerCase().replace(/\W+/g, "-");
  if (cls) b.className = cls;
  b.addEventListener("click", (e) => { e.stopPropagation(); action().catch((err) => message(err.message, true)); });
  return b;
}

function render() {
  const rows = $("rows");
  rows.replaceChildren();
  let down = 0, up = 0;
  for (const t of torrents) {
    down += t.download_rate; up += t.upload_rate;
    const tr = document.createElement("tr");
    tr.className = t.status;
    tr.dataset.hash = t.info_hash;
    const name = cell(t.name, "name");
    name.addEventListener("click", () => { selected = t.info_hash; loadDetail(); });
    tr.append(name);
    const p = document.createElement("td");
    const bar = document.createElement("span"); bar.className = "bar";
    const fill = document.createElement("span"); fill.style.width = (t.progress * 100).toFixed(1) + "%";
    bar.append(fill);
    const pct = document.createElement("span"); pct.className = "pct"; pct.textContent = " " + (t.progress * 100).toFixed(1) + "%";
    p.append(bar, pct);
    tr.append(p);
    tr.append(cell(t.status.replace("_", " ") + (t.error ? ": " + t.error : "") + (t.warning ? " · warning: " + t.warning : ""), "status status-" + t.status));
    tr.append(cell(bytes(t.download_rate) + "/s"), cell(bytes(t.upload_rate) + "/s"), cell(String(t.peers)), cell(eta(t.eta)));
    const actions = document.createElement("td");
    // A torrent stopped by an error (a full disk) is resumed like a paused one.
    if (t.paused || t.status === "error") actions.append(button("Resume", () => api("POST", "/torrents/" + t.info_hash + "/start")));
    else actions.append(button("Pause", () => api("POST", "/torrents/" + t.info_hash + "/stop")));
    actions.append(button("Verify", () => api("POST", "/torrents/" + t.info_hash + "/verify")));
    actions.append(button("Remove", () => {
      if (!confirm("Remove " + t.name + "? (data is kept)")) return Promise.resolve();
      if (selected === t.info_hash) { selected = null; $("detail").hidden = true; }
      return api("DELETE", "/torrents/" + t.info_hash);
    }, "danger"));
    actions.append(button("Remove + data", () => {
      if (!confirm("Remove " + t.name + " and delete its files?")) return Promise.resolve();
      if (selected === t.info_hash) { selected = null; $("detail").hidden = true; }
      return api("DELETE", "/torrents/" + t.info_hash + "?delete_data=true");
    }, "danger"));
    tr.append(actions);
    rows.append(tr);
  }
  $("empty").hidden = torrents.length > 0;
  $("totals").textContent = "↓ " + bytes(down) + "/s · ↑ " + bytes(up) + "/s · " + torrents.length + " torrents";
  if (selected && !torrents.some((t) => t.info_hash === selected)) { selected = null; $("detail").hidden = true; }
}

let detailBusy = false;
async function loadDetail() {
  if (!selected || detailBusy) return;
  detailBusy = true;
  try {
    const resp = await fetch("/api/v1/torrents/" + selected);
    if (resp.status === 404) { selected = null; $("detail").hidden = true; return; }
    const d = await resp.json();
    $("detail").hidden = false;
    $("detail-name").textContent = d.name;
    $("detail-info").textContent = d.info_hash + " · " + bytes(d.total_size) + " · " + d.pieces_total + " pieces of " + bytes(d.piece_size) + " · in " + d.download_dir;
    drawPieces(d);
    const files = $("files").querySelector("tbody");
    files.replaceChildren();
    for (const f of d.files) {
      const tr = document.createElement("tr");
      tr.append(cell(f.name), cell(bytes(f.length)), cell(f.length ? (100 * f.bytes_completed / f.length).toFixed(1) + "%" : "100%"));
      const td = document.createElement("td");
      const sel = document.createElement("select");
      for (const [v, label] of [[0, "skip"], [2, "low"], [4, "normal"], [6, "high"]]) {
        const o = document.createElement("option"); o.value = v; o.textContent = label;
        if (v === f.priority || (label === "normal" && ![0, 2, 6].includes(f.priority))) o.selected = true;
        sel.append(o);
      }
      sel.addEventListener("change", () => api("PATCH", "/torrents/" + d.info_hash, { files: [{ index: f.index, priority: Number(sel.value) }] }).catch((e) => message(e.message, true)));
      td.append(sel);
      tr.append(td);
      files.append(tr);
    }
    if (d.files_total > d.files.length) {
      const tr = document.createElement("tr");
      tr.append(cell("… and " + (d.files_total - d.files.length) + " more files"));
      files.append(tr);
    }
    const peers = $("peers"); peers.replaceChildren();
    for (const p of d.peers) {
      const li = document.createElement("li");
      li.textContent = p.address + " · " + p.client + " · " + (100 * p.progress).toFixed(1) + "% · ↓ " + bytes(p.download_rate) + "/s ↑ " + bytes(p.upload_rate) + "/s" + (p.flags ? " · " + p.flags : "");
      peers.append(li);
    }
    const trackers = $("trackers"); trackers.replaceChildren();
    for (const t of d.tracker_stats) {
      const li = document.createElement("li");
      let text = "tier " + t.tier + ": " + t.url;
      if (t.last_announce_ok === true) text += " · announce ok (" + t.last_announce_peers + " peers)";
      else if (t.last_announce_error) text += " · announce failed: " + t.last_announce_error;
      if (t.seeders !== null) text += " · " + t.seeders + " seeders, " + t.leechers + " leechers, " + t.downloads + " downloads";
      else if (t.scrape_error) text += " · scrape failed: " + t.scrape_error;
      li.textContent = text;
      trackers.append(li);
    }
  } catch (e) {
    message(e.message, true);
  } finally {
    detailBusy = false;
  }
}

function drawPieces(d) {
  const canvas = $("pieces");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, n = d.pieces_total;
  ctx.fillStyle = "#e5e8eb"; ctx.fillRect(0, 0, w, h);
  if (!n) return;
  const raw = atob(d.pieces || "");
  const complete = d.left_until_done === 0 && d.pieces_have === n;
  ctx.fillStyle = "#1f6feb";
  for (let x = 0; x < w; x++) {
    const first = Math.floor(x * n / w), last = Math.max(first, Math.floor((x + 1) * n / w) - 1);
    let have = 0;
    for (let p = first; p <= last; p++) {
      if (complete || (raw.charCodeAt(p >> 3) & (0x80 >> (p & 7)))) have++;
    }
    if (have) { ctx.globalAlpha = have / (last - first + 1); ctx.fillRect(x, 0, 1, h); }
  }
  ctx.globalAlpha = 1;
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).split(",")[1] || "");
    r.onerror = () => reject(new Error("cannot read " + file.name));
    r.readAsDataURL(file);
  });
}

async function add(e) {
  e.preventDefault();
  const file = $("add-file").files[0];
  const magnet = $("add-magnet").value.trim();
  const body = { paused: $("add-paused").checked };
  const dir = $("add-dir").value.trim();
  if (dir) body.download_dir = dir;
  if (file) body.metainfo = await readFile(file);
  else if (/^https?:\/\//i.test(magnet)) body.url = magnet;
  else if (magnet) body.magnet = magnet;
  else { message("choose a .torrent file or paste a magnet link or URL", true); return; }
  try {
    const t = await api("POST", "/torrents", body);
    message("added " + t.name);
    $("add-form").reset();
  } catch (err) {
    message(err.message, true);
  }
}

function connect() {
  const es = new EventSource("/api/v1/events");
  es.addEventListener("torrents", (ev) => {
    torrents = JSON.parse(ev.data);
    $("conn").textContent = "live";
    render();
  });
  es.onerror = () => { $("conn").textContent = "reconnecting…"; };
}

async function start() {
  const s = await fetch("/api/v1/session").then((r) => r.json());
  csrf = s.csrf_token;
  $("add-form").addEventListener("submit", add);
  connect();
  setInterval(loadDetail, 2000);
}

start().catch((e) => message("cannot reach the daemon: " + e.message, true));
