// Adding torrents: the form (files, magnet links or URLs one a line),
// .torrent files dropped anywhere on the page, and magnet links pasted
// anywhere outside a text field.

import * as api from "./api.js";

const $ = (id) => document.getElementById(id);

function base64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).split(",")[1] || "");
    r.onerror = () => reject(new Error("cannot read " + file.name));
    r.readAsDataURL(file);
  });
}

/** The options the form sets for every torrent it adds. */
function options() {
  const body = { paused: $("add-paused").checked };
  const dir = $("add-dir").value.trim();
  if (dir) body.download_dir = dir;
  const labels = $("add-label").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (labels.length) body.labels = labels;
  return body;
}

/** A body per link: URLs of .torrent files, magnet links, bare info-hashes. */
function linkBody(link) {
  if (/^https?:\/\//i.test(link)) return { url: link };
  if (/^[0-9a-f]{40}$/i.test(link)) return { magnet: "magnet:?xt=urn:btih:" + link };
  return { magnet: link };
}

/** Adds files and links; reports what was added and what failed. */
async function addAll(files, links, notify) {
  const jobs = [
    ...files.map((f) => async () => ({ metainfo: await base64(f) })),
    ...links.map((l) => async () => linkBody(l)),
  ];
  if (!jobs.length) { notify("choose .torrent files or paste magnet links or URLs", true); return false; }
  const added = [];
  const errors = [];
  for (const job of jobs) {
    try {
      const t = await api.send("POST", "/torrents", { ...options(), ...(await job()) });
      added.push(t.name);
    } catch (e) { errors.push(e.message); }
  }
  if (errors.length) notify((added.length ? "added " + added.join(", ") + "; " : "") + "failed: " + errors.join("; "), true);
  else notify("added " + added.join(", "));
  return errors.length === 0;
}

const isTorrent = (f) => /\.torrent$/i.test(f.name) || f.type === "application/x-bittorrent";

/** Wires the form, dropping and pasting. */
export function setup(notify) {
  $("add-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const files = [...$("add-file").files];
    const links = $("add-magnet").value.split(/\s+/).map((s) => s.trim()).filter(Boolean);
    if (await addAll(files, links, notify)) {
      $("add-file").value = "";
      $("add-magnet").value = "";
    }
  });
  const drop = $("drop");
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
  document.addEventListener("dragenter", (e) => { if (hasFiles(e)) { depth++; drop.hidden = false; } });
  document.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; drop.hidden = true; } });
  document.addEventListener("dragover", (e) => { if (hasFiles(e)) e.preventDefault(); });
  document.addEventListener("drop", (e) => {
    if (!e.dataTransfer) return;
    e.preventDefault();
    depth = 0;
    drop.hidden = true;
    const files = [...e.dataTransfer.files].filter(isTorrent);
    if (!files.length) { notify("only .torrent files can be dropped here", true); return; }
    addAll(files, [], notify);
  });
  document.addEventListener("paste", (e) => {
    if (e.target.closest && e.target.closest("input, textarea, select")) return;
    const text = (e.clipboardData && e.clipboardData.getData("text")) || "";
    const links = text.split(/\s+/).filter((l) => /^magnet:\?/i.test(l));
    if (links.length) { e.preventDefault(); addAll([], links, notify); }
  });
}
