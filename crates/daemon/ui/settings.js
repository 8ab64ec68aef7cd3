// The settings page (a dialog): speed limits and the alternative ones with
// their schedule, queues, seeding limits, download directory, encryption,
// transports and port mapping, read from and saved to /api/v1/session;
// the categories (saved at once) are in categories.js.

import * as api from "./api.js";
import * as categories from "./categories.js";

const $ = (id) => document.getElementById(id);
const KIB = 1024;

/** The settings as the form showed them, to send only what changed. */
let shown = {};

/** Shows whether the alternative limits are on (the header's switch). */
function showAlt(s) {
  const b = $("alt-speed");
  b.setAttribute("aria-pressed", String(s.alt_speed_enabled));
  const limit = (v) => (v ? Math.round(v / KIB) + " KiB/s" : "none");
  b.title = "alternative speed limits " + (s.alt_speed_enabled ? "on" : "off") + " (↓ " + limit(s.alt_speed_down) + ", ↑ " + limit(s.alt_speed_up) + ")"
    + (s.alt_speed_time_enabled ? "; on a schedule" : "");
}

function fill(s) {
  showAlt(s);
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
  $("set-alt-on").checked = s.alt_speed_enabled;
  $("set-alt-down").value = Math.round(s.alt_speed_down / KIB);
  $("set-alt-up").value = Math.round(s.alt_speed_up / KIB);
  $("set-alt-time-on").checked = s.alt_speed_time_enabled;
  $("set-alt-begin").value = clock(s.alt_speed_time_begin);
  $("set-alt-end").value = clock(s.alt_speed_time_end);
  for (const box of document.querySelectorAll("#set-alt-days input")) box.checked = (s.alt_speed_time_day & (1 << Number(box.dataset.day))) !== 0;
  $("set-utp").checked = s.utp_enabled;
  $("set-tcp").checked = s.tcp_enabled;
  $("set-portmap").checked = s.port_mapping_enabled;
  const running = s.port_mapping !== null;
  // A change applies from the next start; a loopback address is never mapped.
  $("portmap-state").textContent = running === s.port_mapping_enabled ? ""
    : running ? "port mapping runs until the daemon restarts"
      : "port mapping does not run now (it starts with the daemon, unless it listens on a loopback address)";
  shown = read();
}

/** "HH:MM" of minutes after midnight, and back. */
const clock = (m) => String(Math.floor(m / 60)).padStart(2, "0") + ":" + String(m % 60).padStart(2, "0");
const minutes = (text) => {
  const [h, m] = text.split(":").map(Number);
  return Number.isFinite(h) && Number.isFinite(m) ? Math.min(1439, h * 60 + m) : 0;
};

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
    alt_speed_enabled: $("set-alt-on").checked,
    alt_speed_down: int("set-alt-down") * KIB,
    alt_speed_up: int("set-alt-up") * KIB,
    alt_speed_time_enabled: $("set-alt-time-on").checked,
    alt_speed_time_begin: minutes($("set-alt-begin").value),
    alt_speed_time_end: minutes($("set-alt-end").value),
    alt_speed_time_day: [...document.querySelectorAll("#set-alt-days input")]
      .reduce((bits, box) => bits | (box.checked ? 1 << Number(box.dataset.day) : 0), 0),
    utp_enabled: $("set-utp").checked,
    tcp_enabled: $("set-tcp").checked,
    port_mapping_enabled: $("set-portmap").checked,
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
      await categories.load();
      dialog.showModal();
    } catch (e) { notify(e.message, true); }
  });
  $("settings-cancel").addEventListener("click", () => dialog.close());
  $("alt-speed").addEventListener("click", async () => {
    try {
      const on = $("alt-speed").getAttribute("aria-pressed") !== "true";
      showAlt(await api.send("PATCH", "/session", { alt_speed_enabled: on }));
      notify("alternative speed limits " + (on ? "on" : "off"));
    } catch (e) { notify(e.message, true); }
  });
  // The schedule may switch them meanwhile.
  const follow = () => api.get("/session").then(showAlt, () => {});
  follow();
  setInterval(follow, 15000);
  categories.setup(notify);
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
