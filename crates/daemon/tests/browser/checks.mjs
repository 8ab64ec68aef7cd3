// The browser test's checks of scale and layout: scrolling thousands of
// torrents without long tasks, and the page at 400 px.
/**
 * Scrolls the whole list a frame at a time while live updates arrive and
 * fails on any long task over 100 ms (the Long Tasks API); also checks
 * that only a screenful of rows is in the page.
 */
export async function scrollSmoothly(page, what) {
  const result = await page.evaluate(async () => {
    const long = [];
    const obs = new PerformanceObserver((list) => { for (const e of list.getEntries()) long.push(Math.round(e.duration)); });
    obs.observe({ type: "longtask" });
    const vp = document.getElementById("viewport");
    const frame = () => new Promise((r) => requestAnimationFrame(r));
    vp.scrollTop = 0;
    let frames = 0;
    let maxRows = 0;
    const end = performance.now() + 4000;
    // Down in big steps, then back up in small ones.
    while (vp.scrollTop + vp.clientHeight < vp.scrollHeight - 1 && performance.now() < end) {
      vp.scrollTop += 1500;
      await frame();
      frames++;
      maxRows = Math.max(maxRows, document.querySelectorAll("#spacer .row").length);
    }
    const bottom = vp.scrollTop;
    for (let i = 0; i < 40; i++) { vp.scrollTop -= 120; await frame(); frames++; }
    // Let a live update or two land.
    await new Promise((r) => setTimeout(r, 1200));
    obs.disconnect();
    return { long, frames, maxRows, bottom, height: vp.scrollHeight };
  });
  console.log("ui test: scrolled " + what + ": " + JSON.stringify(result));
  const over = result.long.filter((d) => d > 100);
  if (over.length) throw new Error(what + ": long tasks while scrolling: " + over.join(", ") + " ms");
  if (result.maxRows > 80) throw new Error(what + ": " + result.maxRows + " rows in the page (not virtualised)");
  if (result.bottom < result.height / 2) throw new Error(what + ": did not reach the end of the list");
}

/** The page fits 400 px and every control is on screen and usable. */
export async function checkNarrow(page) {
  const fits = async (what) => {
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    if (w > 400) throw new Error(what + ": page is " + w + " px wide at 400 px");
  };
  await fits("list");
  const controls = [
    "#open-settings", "#add-file", "#add-magnet", "#add-button", "#search", "#filter-state", "#filter-label",
    "[data-bulk=start]", "[data-bulk=stop]", "[data-bulk=verify]", "[data-bulk=remove]", "[data-bulk=label]", "[data-bulk=move]",
    "#spacer .row:not([hidden]) input.select", "#spacer .row:not([hidden]) button.open",
    "#spacer .row:not([hidden]) button[data-action]", "#spacer .row:not([hidden]) button[data-action=remove]",
    "[role=columnheader][data-key=eta] button",
  ];
  for (const sel of controls) {
    const el = page.locator(sel).first();
    await el.scrollIntoViewIfNeeded();
    const box = await el.boundingBox();
    if (!box || box.width < 1 || box.x < 0 || box.x + box.width > 400) throw new Error("at 400 px " + sel + " is off screen: " + JSON.stringify(box));
  }
  // The details and the settings fit too.
  await page.locator("#spacer .row:not([hidden]) button.open").first().click();
  await page.locator("#detail").waitFor({ state: "visible" });
  for (const tab of ["files", "peers", "trackers", "pieces", "general"]) {
    await page.click("#tab-" + tab);
    await fits(tab + " tab");
  }
  await page.click("#open-settings");
  await page.locator("#settings").waitFor({ state: "visible" });
  await fits("settings");
  const save = await page.locator("#settings-save").boundingBox();
  if (!save || save.x + save.width > 400) throw new Error("settings' Save is off screen");
  await page.click("#settings-cancel");
  await page.click("#detail-close");
  await page.evaluate(() => window.scrollTo(0, 0));
}
