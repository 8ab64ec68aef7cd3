// Drives the daemon's web UI in Debian's Chromium: every action through
// the UI (add by file, drop and paste; sort, search, filter; bulk start,
// stop, verify, label, move, remove; details tabs, tracker edits and a
// torrent's category; settings with the alternative speed schedule,
// transports, port mapping and categories), the layout
// at 400 px, and smooth scrolling with 2,000 torrents.
// Usage: node ui_test.mjs URL TORRENT_FILE SCREENSHOT_DIR [MAGNET [MANY_URL]]
// MANY_URL: a daemon holding 2,000 torrents.
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tinyTorrent } from "./torrents.mjs";
import { checkNarrow, scrollSmoothly } from "./checks.mjs";

const [url, torrentFile, shots, magnet, manyUrl] = process.argv.slice(2);
if (!url || !torrentFile || !shots) {
  console.error("usage: node ui_test.mjs URL TORRENT_FILE SCREENSHOT_DIR [MAGNET]");
  process.exit(2);
}

const profile = mkdtempSync(join(tmpdir(), "shoal-chromium-"));
const moveTo = mkdtempSync(join(tmpdir(), "shoal-moved-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const page = context.pages()[0] || (await context.newPage());
const problems = [];
page.on("pageerror", (e) => problems.push("page error: " + e.message));
// Failed loads are reported by the response listener below, with their URL.
page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push("console: " + m.text()); });
page.on("dialog", (d) => d.accept());
let removing = false;
let refusing = false;
page.on("response", (r) => {
  // The detail view may ask once more for a torrent just removed.
  const gone = removing && r.status() === 404 && r.url().includes("/api/v1/torrents/");
  // A bad setting is refused on purpose.
  const refused = refusing && r.status() === 400 && r.url().endsWith("/api/v1/session");
  if (r.status() >= 400 && !gone && !refused) problems.push("HTTP " + r.status() + " for " + r.url());
});
// Nothing outside the daemon may be fetched (no CDN).
page.on("request", (r) => { if (!r.url().startsWith(url) && !(manyUrl && r.url().startsWith(manyUrl))) problems.push("outside request: " + r.url()); });

const step = (name) => console.log("ui test: " + name);
const api = (method, path, body) => page.evaluate(async ([method, path, body]) => {
  const s = await (await fetch("/api/v1/session")).json();
  const r = await fetch("/api/v1" + path, { method, headers: { "X-Shoal-Csrf": s.csrf_token, "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return r.json();
}, [method, path, body]);
const until = async (what, test, ms = 15000) => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await test();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await page.waitForTimeout(100);
  }
};
const rowOf = (name) => page.locator("#spacer .row:not([hidden])", { has: page.locator("button.open", { hasText: name }) });
const shownNames = () => page.evaluate(() => [...document.querySelectorAll("#spacer .row:not([hidden])")]
  .sort((a, b) => a.dataset.index - b.dataset.index).map((r) => r.querySelector("button.open").textContent));
const expectShown = async (what, names) => until(what + ": " + names.join(", "), async () => {
  const got = await shownNames();
  return got.length === names.length && names.every((n) => got.includes(n));
}, 5000);

let code = 0;
try {
  step("load");
  await page.goto(url);
  await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 15000 });
  await page.locator("#empty").waitFor({ state: "visible" });

  step("add a file, paused");
  await page.check("#add-paused");
  await page.setInputFiles("#add-file", torrentFile);
  await page.click("#add-button");
  const row = page.locator("#spacer .row:not([hidden])").first();
  await row.locator(".cell.status", { hasText: "stopped" }).waitFor({ timeout: 15000 });
  const name = await row.locator("button.open").textContent();
  const hash = await row.getAttribute("data-hash");
  // Slow enough to see its peer in the details.
  await api("PATCH", "/torrents/" + hash, { max_download: 256 * 1024 });

  step("start from its row; peers tab");
  await row.locator("button[data-action=start]").click();
  await row.locator("button.open").click();
  await page.locator("#detail").waitFor({ state: "visible" });
  await page.click("#tab-peers");
  const client = page.locator("#peers tbody tr td.client").first();
  await client.waitFor({ timeout: 20000 });
  if (!(await client.textContent()).trim() || (await client.textContent()) === "?") throw new Error("peer without a client name");
  await api("PATCH", "/torrents/" + hash, { max_download: 0 });
  await row.locator(".cell.status", { hasText: "seeding" }).waitFor({ timeout: 60000 });
  await row.locator(".pct", { hasText: "100.0%" }).waitFor({ timeout: 5000 });

  step("files tab: progress and priority");
  await page.click("#tab-files");
  await page.locator("#files tbody tr td:nth-child(3)", { hasText: "100.0%" }).first().waitFor({ timeout: 5000 });
  // Each file links to its stream, which serves the file's bytes by range.
  const href = await page.locator("#files tbody tr td a.stream").first().getAttribute("href", { timeout: 10000 });
  if (!href || !href.startsWith("/stream/")) throw new Error("stream link " + href);
  const part = await page.evaluate(async (u) => {
    const r = await fetch(u, { headers: { Range: "bytes=0-9" } });
    return r.status + " " + (await r.arrayBuffer()).byteLength;
  }, href);
  if (part !== "206 10") throw new Error("stream answered " + part);
  step("files tab: the player plays a sound file's stream");
  await page.locator("#files tbody tr button.play").first().click();
  await page.locator("#player-audio").waitFor({ state: "visible", timeout: 5000 });
  // Metadata read through range requests: the WAV file lasts one second.
  await until("audio metadata", () => page.evaluate(() => {
    const a = document.getElementById("player-audio");
    return a.readyState >= 1 && Math.abs(a.duration - 1) < 0.05;
  }));
  await page.click("#player-close");
  await page.locator("#player").waitFor({ state: "hidden", timeout: 5000 });
  await page.locator("#files tbody tr select").nth(1).selectOption({ label: "high" });
  await until("file priority high", async () => (await api("GET", "/torrents/" + hash)).files[1].priority === 6);

  step("trackers, pieces and general tabs");
  await page.click("#tab-trackers");
  await page.locator("#trackers tbody tr td", { hasText: "http://" }).first().waitFor({ timeout: 5000 });
  await page.click("#reannounce");
  await page.locator("#message", { hasText: "announcing" }).waitFor({ timeout: 5000 });
  step("trackers tab: add, edit and remove a tracker");
  const trackerList = async () => (await api("GET", "/torrents/" + hash)).trackers.flat();
  const trackerRow = (u) => page.locator("#trackers tbody tr", { has: page.locator("td", { hasText: u }) });
  await page.fill("#tracker-add-url", "udp://127.0.0.1:9/announce");
  await page.click("#tracker-add");
  await until("tracker added", async () => (await trackerList()).includes("udp://127.0.0.1:9/announce"), 5000);
  await trackerRow("udp://127.0.0.1:9/announce").waitFor({ timeout: 5000 });
  await trackerRow("udp://127.0.0.1:9/announce").locator("button.tracker-edit").click();
  await page.fill("#trackers input.tracker-url", "udp://127.0.0.1:10/announce");
  await page.locator("#trackers button.tracker-save").click();
  await until("tracker edited", async () => {
    const list = await trackerList();
    return list.includes("udp://127.0.0.1:10/announce") && !list.includes("udp://127.0.0.1:9/announce");
  }, 5000);
  await trackerRow("udp://127.0.0.1:10/announce").locator("button.tracker-remove").click();
  await until("tracker removed", async () => !(await trackerList()).some((u) => u.startsWith("udp://127.0.0.1:")), 5000);
  await page.locator("#trackers tbody tr td", { hasText: "udp://127.0.0.1:10/" }).waitFor({ state: "detached", timeout: 5000 });
  await page.click("#tab-pieces");
  await page.locator("#pieces-info", { hasText: "of" }).waitFor({ timeout: 5000 });
  await page.click("#tab-general");
  await page.getByText(hash, { exact: true }).waitFor({ timeout: 5000 });
  await page.fill("#opt-up", "300");
  await page.check("#opt-sequential");
  await page.click("#opt-save");
  await page.locator("#message", { hasText: "options saved" }).waitFor({ timeout: 5000 });
  const opts = await api("GET", "/torrents/" + hash);
  if (opts.max_upload !== 300 * 1024 || opts.sequential !== true) throw new Error("options not saved: " + opts.max_upload + " " + opts.sequential);
  await page.fill("#opt-up", "0");
  await page.click("#opt-save");
  await until("upload limit removed", async () => (await api("GET", "/torrents/" + hash)).max_upload === null, 5000);
  if (await page.locator("#panel-pieces").isVisible()) throw new Error("two tabs shown at once");

  await page.locator("h1").click();
  await page.keyboard.press("Escape");
  await page.locator("#detail").waitFor({ state: "hidden", timeout: 5000 });

  step("drop a .torrent file");
  const dropped = tinyTorrent("dropped-one").toString("base64");
  await page.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], "dropped-one.torrent", { type: "application/x-bittorrent" }));
    document.getElementById("list").dispatchEvent(new DragEvent("dragenter", { dataTransfer: dt, bubbles: true }));
    if (document.getElementById("drop").hidden) throw new Error("no drop zone shown");
    document.getElementById("list").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, dropped);
  await rowOf("dropped-one").waitFor({ timeout: 10000 });

  step("paste a magnet link");
  await page.fill("#add-magnet", "magnet:?xt=urn:btih:" + "ab".repeat(20) + "&dn=pasted-magnet");
  await page.click("#add-button");
  await rowOf("pasted-magnet").waitFor({ timeout: 10000 });
  // Pasted anywhere outside a text field.
  await page.locator("h1").click();
  await page.evaluate((link) => {
    const dt = new DataTransfer();
    dt.setData("text/plain", link);
    document.body.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
  }, "magnet:?xt=urn:btih:" + "cd".repeat(20) + "&dn=pasted-anywhere");
  await rowOf("pasted-anywhere").waitFor({ timeout: 10000 });
  await page.uncheck("#add-paused");

  step("sort");
  const nameHead = page.locator("[role=columnheader][data-key=name]");
  await nameHead.locator("button").click();
  if ((await nameHead.getAttribute("aria-sort")) !== "ascending") throw new Error("name not sorted ascending");
  const sorted = [name, "dropped-one", "pasted-anywhere", "pasted-magnet"].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
  await until("ascending order " + sorted, async () => (await shownNames()).join() === sorted.join(), 5000);
  await nameHead.locator("button").click();
  if ((await nameHead.getAttribute("aria-sort")) !== "descending") throw new Error("name not sorted descending");
  await until("descending order", async () => (await shownNames()).join() === [...sorted].reverse().join(), 5000);
  await page.locator("[role=columnheader][data-key=size] button").click();
  if ((await nameHead.getAttribute("aria-sort")) !== "none") throw new Error("two sorted columns");

  step("search and state filter");
  if ((await page.getAttribute("#search", "type")) !== "search") throw new Error("search is not type=search");
  await page.locator("h1").click();
  await page.keyboard.press("/");
  if (!(await page.evaluate(() => document.activeElement.id === "search"))) throw new Error("/ does not go to the search box");
  await page.keyboard.type("dropped");
  await expectShown("search", ["dropped-one"]);
  await page.fill("#search", "");
  await page.selectOption("#filter-state", "seeding");
  await expectShown("seeding filter", [name]);
  await page.selectOption("#filter-state", "stopped");
  await expectShown("stopped filter", ["dropped-one", "pasted-anywhere", "pasted-magnet"]);
  await page.selectOption("#filter-state", "all");

  step("shift-click selects a range");
  await page.locator("[role=columnheader][data-key=name] button").click();
  await until("sorted by name", async () => (await shownNames()).join() === sorted.join(), 5000);
  await rowOf(sorted[0]).locator("input.select").check();
  await rowOf(sorted[2]).locator("input.select").click({ modifiers: ["Shift"] });
  await page.locator("#selected-count", { hasText: "3 selected" }).waitFor({ timeout: 5000 });
  await page.locator("#select-all").check();
  await page.locator("#selected-count", { hasText: "4 selected" }).waitFor({ timeout: 5000 });
  await page.locator("#select-all").uncheck();
  await page.locator("#selected-count", { hasText: "0 selected" }).waitFor({ timeout: 5000 });

  step("bulk label and label filter");
  await rowOf("dropped-one").locator("input.select").check();
  await rowOf("pasted-magnet").locator("input.select").check();
  await page.locator("#selected-count", { hasText: "2 selected" }).waitFor();
  await page.fill("#bulk-label", "linux, iso");
  await page.click("[data-bulk=label]");
  await rowOf("dropped-one").locator(".cell.label", { hasText: "linux" }).waitFor({ timeout: 5000 });
  await rowOf("pasted-magnet").locator(".cell.label", { hasText: "iso" }).waitFor({ timeout: 5000 });
  await until("label option", async () => (await page.locator("#filter-label option[value=linux]").count()) === 1, 5000);
  await page.selectOption("#filter-label", "linux");
  await expectShown("label filter", ["dropped-one", "pasted-magnet"]);
  // Filters and sorting are kept across a reload; the selection is not.
  await page.reload();
  await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 15000 });
  await expectShown("label filter after a reload", ["dropped-one", "pasted-magnet"]);
  if ((await page.inputValue("#filter-label")) !== "linux") throw new Error("label filter not kept");
  if ((await page.getAttribute("[role=columnheader][data-key=name]", "aria-sort")) !== "ascending") throw new Error("sorting not kept");
  await rowOf("dropped-one").locator("input.select").check();
  await rowOf("pasted-magnet").locator("input.select").check();
  await page.selectOption("#filter-label", { label: "No label" });
  await expectShown("no-label filter", [name, "pasted-anywhere"]);
  await page.selectOption("#filter-label", "");

  step("bulk start and stop");
  await page.click("[data-bulk=start]");
  await until("both started", async () => (await api("GET", "/torrents")).filter((t) => !t.paused).length === 3, 10000);
  await page.click("[data-bulk=stop]");
  await until("both stopped", async () => (await api("GET", "/torrents")).filter((t) => t.paused).length === 3, 10000);
  await rowOf("dropped-one").locator(".cell.status", { hasText: "stopped" }).waitFor({ timeout: 5000 });

  step("bulk move");
  await rowOf("pasted-magnet").locator("input.select").uncheck();
  await page.fill("#bulk-dir", moveTo);
  await page.click("[data-bulk=move]");
  await until("moved", async () => (await api("GET", "/torrents")).find((t) => t.name === "dropped-one").download_dir === moveTo, 10000);

  step("bulk verify");
  await rowOf("dropped-one").locator("input.select").uncheck();
  await page.locator(".row.head input#select-all").uncheck();
  await rowOf(name).locator("input.select").check();
  await page.locator("#selected-count", { hasText: "1 selected" }).waitFor();
  await page.click("[data-bulk=verify]");
  await page.locator("#message", { hasText: "1 torrent verifying" }).waitFor({ timeout: 5000 });
  await rowOf(name).locator(".cell.status", { hasText: "seeding" }).waitFor({ timeout: 30000 });
  await rowOf(name).locator("input.select").uncheck();

  step("settings");
  await page.click("#open-settings");
  await page.locator("#settings").waitFor({ state: "visible" });
  await page.fill("#set-down", "1000");
  await page.selectOption("#set-encryption", "require");
  await page.check("#set-ratio-on");
  await page.fill("#set-ratio", "1.5");
  await page.fill("#set-queue-down", "7");
  await page.click("#settings-save");
  await page.locator("#settings").waitFor({ state: "hidden" });
  let s = await api("GET", "/session");
  if (s.max_download !== 1024000 || s.encryption !== "require" || s.seed_ratio_limit !== 1.5 || s.max_active_downloads !== 7) throw new Error("settings not saved: " + JSON.stringify(s));
  await page.click("#open-settings");
  await page.fill("#set-dir", "relative/dir");
  refusing = true;
  await page.click("#settings-save");
  await page.locator("#settings-message", { hasText: "absolute" }).waitFor({ timeout: 5000 });
  refusing = false;
  await page.fill("#set-dir", s.download_dir);
  await page.fill("#set-down", "0");
  await page.selectOption("#set-encryption", "prefer");
  await page.uncheck("#set-ratio-on");
  await page.fill("#set-queue-down", "0");
  await page.click("#settings-save");
  await page.locator("#settings").waitFor({ state: "hidden" });
  s = await api("GET", "/session");
  if (s.max_download !== null || s.seed_ratio_limit !== null || s.encryption !== "prefer") throw new Error("settings not reset: " + JSON.stringify(s));

  step("settings: alternative speed limits, transports, port mapping");
  await page.click("#open-settings");
  await page.locator("#settings").waitFor({ state: "visible" });
  const mapping = await page.isChecked("#set-portmap");
  await page.check("#set-alt-on");
  await page.fill("#set-alt-down", "100");
  await page.fill("#set-alt-up", "20");
  await page.uncheck("#set-utp");
  await page.setChecked("#set-portmap", !mapping);
  await page.click("#settings-save");
  await page.locator("#settings").waitFor({ state: "hidden" });
  s = await api("GET", "/session");
  if (!s.alt_speed_enabled || s.alt_speed_down !== 102000 || s.alt_speed_up !== 20000 || s.limits_in_force.down !== 102000
    || s.utp_enabled || !s.tcp_enabled || s.port_mapping_enabled === mapping) throw new Error("alternative limits or switches not saved: " + JSON.stringify(s));

  step("settings: the schedule of the alternative limits");
  await page.click("#open-settings");
  await page.locator("#settings").waitFor({ state: "visible" });
  if ((await page.inputValue("#set-alt-down")) !== "100") throw new Error("alternative limit shown as " + (await page.inputValue("#set-alt-down")));
  await page.check("#set-alt-time-on");
  await page.fill("#set-alt-begin", "01:30");
  await page.fill("#set-alt-end", "23:15");
  await page.uncheck("#set-alt-days input[data-day='0']");
  await page.click("#settings-save");
  await page.locator("#settings").waitFor({ state: "hidden" });
  s = await api("GET", "/session");
  if (!s.alt_speed_time_enabled || s.alt_speed_time_begin !== 90 || s.alt_speed_time_end !== 1395 || s.alt_speed_time_day !== 126) throw new Error("schedule not saved: " + JSON.stringify(s));
  // The daemon follows the schedule at once, in the same local time as the browser.
  const inWindow = await page.evaluate(() => {
    const d = new Date();
    const m = d.getHours() * 60 + d.getMinutes();
    return d.getDay() !== 0 && m >= 90 && m < 1395;
  });
  await until("the alternative limits " + (inWindow ? "on" : "off") + " by the schedule", async () => {
    const now = await api("GET", "/session");
    return now.alt_speed_enabled === inWindow && (now.limits_in_force.down === 102000) === inWindow;
  }, 15000);
  await page.click("#open-settings");
  await page.locator("#settings").waitFor({ state: "visible" });
  await page.uncheck("#set-alt-time-on");
  await page.uncheck("#set-alt-on");
  await page.check("#set-utp");
  await page.setChecked("#set-portmap", mapping);
  await page.click("#settings-save");
  await page.locator("#settings").waitFor({ state: "hidden" });
  s = await api("GET", "/session");
  if (s.alt_speed_enabled || s.limits_in_force.down !== null || !s.utp_enabled || s.port_mapping_enabled !== mapping) throw new Error("switches not reset: " + JSON.stringify(s));

  step("the header's alternative speed switch");
  if ((await page.getAttribute("#alt-speed", "aria-pressed")) !== "false") throw new Error("alternative limits shown on");
  await page.click("#alt-speed");
  await page.locator("#alt-speed[aria-pressed=true]").waitFor({ timeout: 5000 });
  if (!(await api("GET", "/session")).alt_speed_enabled) throw new Error("alternative limits not switched on");
  await page.click("#alt-speed");
  await page.locator("#alt-speed[aria-pressed=false]").waitFor({ timeout: 5000 });
  if ((await api("GET", "/session")).limits_in_force.down !== null) throw new Error("alternative limits not switched off");

  step("settings: categories");
  await page.click("#open-settings");
  await page.locator("#settings").waitFor({ state: "visible" });
  await page.fill("#category-name", "films");
  await page.fill("#category-path", moveTo);
  await page.click("#category-add");
  const films = page.locator("#category-list li[data-name=films]");
  await films.waitFor({ timeout: 5000 });
  if ((await films.locator("input.category-path").inputValue()) !== moveTo) throw new Error("category path not shown");
  await films.locator("input.category-path").fill("");
  await films.locator("button.category-save").click();
  await until("category path cleared", async () => {
    const c = await api("GET", "/categories");
    return c.films && c.films.save_path === "";
  }, 5000);
  await page.fill("#category-name", "junk");
  await page.click("#category-add");
  await page.locator("#category-list li[data-name=junk]").waitFor({ timeout: 5000 });
  await page.locator("#category-list li[data-name=junk] button.category-remove").click();
  await page.locator("#category-list li[data-name=junk]").waitFor({ state: "detached", timeout: 5000 });
  if (JSON.stringify(Object.keys(await api("GET", "/categories"))) !== '["films"]') throw new Error("categories: " + JSON.stringify(await api("GET", "/categories")));
  await page.screenshot({ path: join(shots, "daemon-ui-settings.png") });
  await page.click("#settings-cancel");
  await page.locator("#settings").waitFor({ state: "hidden" });

  step("a torrent's category from its options");
  await rowOf(name).locator("button.open").click();
  await page.locator("#detail").waitFor({ state: "visible" });
  await page.click("#tab-general");
  await page.locator("#opt-category option[value=films]").waitFor({ state: "attached", timeout: 5000 });
  await page.selectOption("#opt-category", "films");
  await page.click("#opt-save");
  await until("category set", async () => (await api("GET", "/torrents/" + hash)).category === "films", 5000);
  await page.locator("#general dd", { hasText: "films" }).waitFor({ timeout: 5000 });
  await page.locator("h1").click();
  await page.keyboard.press("Escape");
  await page.locator("#detail").waitFor({ state: "hidden", timeout: 5000 });

  step("speed graph");
  await until("graph samples", async () => Number(await page.getAttribute("#graph", "data-samples")) >= 2, 5000);
  await page.screenshot({ path: join(shots, "daemon-ui.png"), fullPage: true });

  step("bulk remove");
  removing = true;
  await rowOf("dropped-one").locator("input.select").check();
  await rowOf("pasted-magnet").locator("input.select").check();
  await rowOf("pasted-anywhere").locator("input.select").check();
  await page.click("[data-bulk=remove]");
  await expectShown("after bulk remove", [name]);

  step("remove from its row");
  await rowOf(name).locator("button[data-action=remove]").click();
  await page.locator("#empty").waitFor({ state: "visible", timeout: 15000 });
  await page.screenshot({ path: join(shots, "daemon-ui-removed.png"), fullPage: true });

  if (magnet) {
    step("add magnet");
    await page.fill("#add-magnet", magnet);
    await page.click("#add-button");
    const mrow = page.locator("#spacer .row:not([hidden])").first();
    await mrow.waitFor({ timeout: 15000 });
    // The data is already there: once the metadata arrives, it is checked and seeds.
    await mrow.locator(".cell.status", { hasText: "seeding" }).waitFor({ timeout: 60000 });
    await mrow.locator("button[data-action=remove]").click();
    await page.locator("#empty").waitFor({ state: "visible", timeout: 15000 });
  }

  if (manyUrl) {
    step("2,000 torrents");
    await page.goto(manyUrl);
    await page.locator("#totals", { hasText: "2000 torrents" }).waitFor({ timeout: 30000 });
    await scrollSmoothly(page, "wide");
    await page.selectOption("#filter-label", "bulk");
    await until("667 torrents labelled bulk", async () => (await page.evaluate(() => document.getElementById("spacer").style.height)) === 667 * 36 + "px", 5000);
    await page.selectOption("#filter-label", "");
    await page.screenshot({ path: join(shots, "daemon-ui-2000.png") });

    step("400 px wide");
    await page.setViewportSize({ width: 400, height: 800 });
    await checkNarrow(page);
    await page.screenshot({ path: join(shots, "daemon-ui-narrow.png"), fullPage: true });
    await scrollSmoothly(page, "narrow");
    // The smallest phones in common use.
    await page.setViewportSize({ width: 360, height: 740 });
    await until("360 px layout", async () => (await page.evaluate(() => document.documentElement.scrollWidth)) <= 360, 5000);
    await page.emulateMedia({ colorScheme: "dark" });
    await page.screenshot({ path: join(shots, "daemon-ui-dark.png") });
  }

  if (problems.length) throw new Error(problems.join("\n"));
  step("ok");
} catch (e) {
  console.error("ui test failed: " + e.message);
  try { await page.screenshot({ path: join(shots, "daemon-ui-failure.png"), fullPage: true }); } catch {}
  code = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(moveTo, { recursive: true, force: true });
}
process.exit(code);
