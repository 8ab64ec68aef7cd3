// The settings page (a dialog): speed limits, queues, seeding limits,
// download directory and encryption, read from and saved to
// /api/v1/session.

import * as api from "./api.js";

const $ = (id) => document.getElementById(id);
const KIB = 1024;

/** The settings as the form showed them, to send only what changed. */
let shown = {};

function fill(s) {
  $("set-down").value = s.max_download ? Math.round(s.max_download / KIB) : 0;
  $("set-up").value = s.max_upload ? Math.round(s.max_upload / KIB) : 0;
  $("set-queue-down").value = s.max_active_downloads;
  $("set-queue-seed").value = s.max_active_seeds;
  $("set-ratio-on").checked = s.seed_ratio_limit !== null;
  $("set-ratio").value = s.seed_ratio_limit ?? 2;
  $("set-idle-on").checked = s.seed_idle_limit !== null;
  $("set-idle").value = s.seed_idle_limit ? Math.round(s.seed_idle_limit / 60) : 30;
  $("set-dir").value = s.download_dir;
  $("set-encryption").value = s.encryption;
  shown = read();
}

function read() {
  const int = (id) => Math.max(0, Math.round(Number($(id).value) || 0));
  return {
    max_download: int("set-down") * KIB,
    max_upload: int("set-up") * KIB,
    max_active_downloads: int("set-queue-down"),
    max_active_seeds: int("set-queue-seed"),
    seed_ratio_limit: $("set-ratio-on").checked ? Math.max(0, Number($("set-ratio").value) || 0) : -1,
    seed_idle_limit: $("set-idle-on").checked ? Math.max(1, int("set-idle")) * 60 : 0,
    download_dir: $("set-dir").value.trim(),
    encryption: $("set-encryption").value,
  };
}

/** Wires the settings dialog; `notify(text, isError)` reports a save. */
export function setup(notify) {
  const dialog = $("settings");
  const say = (text) => { $("settings-message").textContent = text; };
  $("open-settings").addEventListener("click", async () => {
    say("");
    try {
      fill(await api.get("/session"));
      dialog.showModal();
    } catch (e) { notify(e.message, true); }
  });
  $("settings-cancel").addEventListener("click", () => dialog.close());
  $("settings-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      // Only what changed: a value the daemon has from its config file
      // stays there (what the API sets overrides the file from then on).
      const now = read();
      const changed = Object.fromEntries(Object.entries(now).filter(([k, v]) => shown[k] !== v));
      fill(await api.send("PATCH", "/session", changed));
      dialog.close();
      notify("settings saved");
    } catch (err) {
      // The daemon checks everything before applying anything.
      say(err.message);
    }
  });
}
