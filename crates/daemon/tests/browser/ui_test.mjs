// Drives the daemon's web UI in Debian's Chromium: add a torrent from a
// file, watch it complete, pause, resume, look at the details, remove;
// then add the same torrent by magnet link and remove it again.
// Usage: node ui_test.mjs URL TORRENT_FILE SCREENSHOT_DIR [MAGNET]
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, torrentFile, shots, magnet] = process.argv.slice(2);
if (!url || !torrentFile || !shots) {
  console.error("usage: node ui_test.mjs URL TORRENT_FILE SCREENSHOT_DIR");
  process.exit(2);
}

const profile = mkdtempSync(join(tmpdir(), "shoal-chromium-"));
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
page.on("response", (r) => {
  // The detail view may ask once more for a torrent just removed.
  const gone = removing && r.status() === 404 && r.url().includes("/api/v1/torrents/");
  if (r.status() >= 400 && !gone) problems.push("HTTP " + r.status() + " for " + r.url());
});
// Nothing outside the daemon may be fetched (no CDN).
page.on("request", (r) => { if (!r.url().startsWith(url)) problems.push("outside request: " + r.url()); });

const step = (name) => console.log("ui test: " + name);
let code = 0;
try {
  step("load");
  await page.goto(url);
  await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 15000 });
  await page.locator("#empty").waitFor({ state: "visible" });

  step("add");
  await page.setInputFiles("#add-file", torrentFile);
  await page.click("#add-button");
  const row = page.locator("#rows tr").first();
  await row.waitFor({ timeout: 15000 });

  step("complete");
  await row.locator("td.status", { hasText: "seeding" }).waitFor({ timeout: 90000 });
  await row.locator(".pct", { hasText: "100.0%" }).waitFor({ timeout: 5000 });

  step("pause");
  await row.locator("button[data-action=pause]").click();
  await row.locator("td.status", { hasText: "stopped" }).waitFor({ timeout: 15000 });

  step("resume");
  await row.locator("button[data-action=resume]").click();
  await row.locator("td.status", { hasText: "seeding" }).waitFor({ timeout: 30000 });

  step("details");
  await row.locator("td.name").click();
  await page.locator("#detail").waitFor({ state: "visible", timeout: 10000 });
  await page.locator("#files tbody tr").first().waitFor({ timeout: 10000 });
  const done = await page.locator("#files tbody tr td:nth-child(3)").first().textContent();
  if (done !== "100.0%") throw new Error("file shows " + done + " done");
  // Each file links to its stream, which serves the file's bytes by range.
  const href = await page.locator("#files tbody tr td a").first().getAttribute("href", { timeout: 10000 });
  if (!href || !href.startsWith("/stream/")) throw new Error("stream link " + href);
  const part = await page.evaluate(async (u) => {
    const r = await fetch(u, { headers: { Range: "bytes=0-9" } });
    return r.status + " " + (await r.arrayBuffer()).byteLength;
  }, href);
  if (part !== "206 10") throw new Error("stream answered " + part);
  await page.screenshot({ path: join(shots, "daemon-ui.png"), fullPage: true });

  step("remove");
  removing = true;
  await row.locator("button[data-action=remove]").click();
  await page.locator("#empty").waitFor({ state: "visible", timeout: 15000 });
  await page.screenshot({ path: join(shots, "daemon-ui-removed.png"), fullPage: true });

  if (magnet) {
    step("add magnet");
    await page.fill("#add-magnet", magnet);
    await page.click("#add-button");
    const mrow = page.locator("#rows tr").first();
    await mrow.waitFor({ timeout: 15000 });
    // The data is already there: once the metadata arrives, it is checked and seeds.
    await mrow.locator("td.status", { hasText: "seeding" }).waitFor({ timeout: 60000 });
    await mrow.locator("button[data-action=remove]").click();
    await page.locator("#empty").waitFor({ state: "visible", timeout: 15000 });
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
}
process.exit(code);
