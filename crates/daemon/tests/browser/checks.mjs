// The browser test's checks of scale and layout: scrolling thousands of
// torrents without long tasks, and the page at 400 px.
/**
 * Runs `body` while Chromium traces the page; resolves to its result and
 * the CPU time (ms) of each task on the page's main thread.
 */
async function traced(page, body) {
  const cdp = await page.context().newCDPSession(page);
  const events = [];
  cdp.on("Tracing.dataCollected", (e) => events.push(...e.value));
  const complete = new Promise((resolve) => cdp.once("Tracing.tracingComplete", resolve));
  await cdp.send("Tracing.start", { traceConfig: { includedCategories: ["toplevel", "devtools.timeline"] }, transferMode: "ReportEvents" });
  const result = await body();
  await cdp.send("Tracing.end");
  await complete;
  await cdp.detach();
  const frame = events.find((e) => e.name === "FireAnimationFrame");
  const cpu = frame
    ? events.filter((e) => e.pid === frame.pid && e.tid === frame.tid && e.name === "ThreadControllerImpl::RunTask" && e.ph === "X")
      .map((e) => (e.tdur || 0) / 1000)
    : [];
  return { result, cpu };
}

/**
 * Scrolls the whole list a frame at a time while live updates arrive and
 * fails on a long task over 100 ms; checks that only a screenful of rows
 * is in the page. The Long Tasks API measures wall time, which on a
 * shared machine includes waiting for a CPU: a long task fails the test
 * when the page's own work (each task's CPU time, from Chromium's trace)
 * could explain it, i.e. reached 50 ms; any task using 100 ms of CPU fails
 * it whatever the wall clock says.
 */
export async function scrollSmoothly(page, what) {
  const { result, cpu } = await traced(page, () => page.evaluate(async () => {
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
  }));
  const maxCpu = Math.round(Math.max(0, ...cpu));
  console.log("ui test: scrolled " + what + ": " + JSON.stringify({ ...result, tasks: cpu.length, maxCpu }));
  if (!cpu.length) throw new Error(what + ": no main-thread tasks in the trace");
  if (maxCpu >= 100) throw new Error(what + ": a task used " + maxCpu + " ms of CPU");
  const over = result.long.filter((d) => d > 100);
  if (over.length && maxCpu >= 50) throw new Error(what + ": long tasks while scrolling: " + over.join(", ") + " ms (busiest task " + maxCpu + " ms of CPU)");
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
