// The torrent list: a table on wide screens, cards on narrow ones. Only
// the rows in view (plus a few) exist in the page, reused as it scrolls,
// so thousands of torrents cost what a screenful does.

import { COLUMNS, arrange } from "./columns.js";
import * as fmt from "./format.js";

/** Rows drawn above and below the visible ones. */
const OVERSCAN = 3;
/** Narrow screens show cards; keep in step with style.css. */
const NARROW = window.matchMedia("(max-width: 700px)");

/** Where the sorting and filters are kept between visits. */
const STORE_KEY = "shoal.list";

/** The kept sorting and filters (only known keys, only strings). */
function saved() {
  try {
    const v = JSON.parse(localStorage.getItem(STORE_KEY) || "{}");
    const out = {};
    for (const k of ["state", "label", "sortKey", "sortDir"]) if (typeof v[k] === "string") out[k] = v[k];
    return out;
  } catch {
    return {};
  }
}

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
const setText = (e, v) => { if (e.textContent !== v) e.textContent = v; };

/** The list's state and its rendering. */
export class TorrentList {
  constructor({ header, viewport, spacer, empty, onOpen, onAction, onChange }) {
    Object.assign(this, { header, viewport, spacer, empty, onOpen, onAction, onChange });
    this.torrents = [];
    this.view = [];
    this.selected = new Set();
    this.lastClicked = -1;
    this.pool = [];
    this.opts = { state: "all", label: "", text: "", sortKey: "added", sortDir: "ascending", ...saved() };
    this.buildHeader();
    viewport.addEventListener("scroll", () => this.schedule(), { passive: true });
    window.addEventListener("resize", () => this.schedule());
    NARROW.addEventListener("change", () => this.schedule());
    spacer.addEventListener("click", (e) => this.click(e));
  }

  /** New torrents from the daemon. */
  setTorrents(torrents) {
    this.torrents = torrents;
    if (this.selected.size) {
      const known = new Set(torrents.map((t) => t.info_hash));
      for (const h of [...this.selected]) if (!known.has(h)) this.selected.delete(h);
    }
    this.refresh();
  }

  /** Changes filters or sorting (any of `opts`' keys); kept for the next visit. */
  set(opts) {
    Object.assign(this.opts, opts);
    const { state, label, sortKey, sortDir } = this.opts;
    try { localStorage.setItem(STORE_KEY, JSON.stringify({ state, label, sortKey, sortDir })); } catch { /* private mode */ }
    this.refresh();
  }

  /**
   * Re-filters and re-sorts now; redraws in the next frame and tells
   * `onChange` in a task of its own, so no one task does it all (with
   * thousands of torrents each part takes a few milliseconds).
   */
  refresh() {
    this.view = arrange(this.torrents, this.opts);
    for (const h of this.header.querySelectorAll("[role=columnheader][data-key]")) {
      const sort = h.dataset.key === this.opts.sortKey ? this.opts.sortDir : "none";
      if (h.getAttribute("aria-sort") !== sort) h.setAttribute("aria-sort", sort);
    }
    const none = this.view.length === 0;
    if (this.empty.hidden === none) this.empty.hidden = !none;
    setText(this.empty, this.torrents.length ? "No torrent matches the filters." : "No torrents yet: add one above, or drop .torrent files anywhere on the page.");
    this.schedule();
    this.changed();
  }

  changed() {
    if (this.changePending) return;
    this.changePending = setTimeout(() => { this.changePending = 0; this.onChange(); }, 0);
  }

  /** Selects every torrent the filters show, or none. */
  selectAll(on) {
    this.selected = on ? new Set(this.view.map((t) => t.info_hash)) : new Set();
    this.schedule();
    this.changed();
  }

  /** The selected torrents still in the daemon. */
  selection() {
    return this.torrents.filter((t) => this.selected.has(t.info_hash));
  }

  buildHeader() {
    const all = el("input");
    all.type = "checkbox";
    all.id = "select-all";
    all.setAttribute("aria-label", "Select all shown torrents");
    all.addEventListener("change", () => this.selectAll(all.checked));
    const first = el("div", "cell check");
    first.setAttribute("role", "columnheader");
    first.append(all);
    this.header.append(first);
    for (const c of COLUMNS) {
      const h = el("div", "cell " + c.key);
      h.setAttribute("role", "columnheader");
      h.dataset.key = c.key;
      h.setAttribute("aria-sort", "none");
      const b = el("button", "sort", c.label);
      b.type = "button";
      b.addEventListener("click", () => {
        const same = this.opts.sortKey === c.key;
        this.set({ sortKey: c.key, sortDir: same && this.opts.sortDir === "ascending" ? "descending" : "ascending" });
      });
      h.append(b);
      this.header.append(h);
    }
    const act = el("div", "cell actions", "Actions");
    act.setAttribute("role", "columnheader");
    this.header.append(act);
  }

  rowHeight() {
    return NARROW.matches ? 96 : 36;
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = 0; this.paint(); });
  }

  /** Draws the rows in view. */
  paint() {
    // Layout is read before anything is written (no forced reflow).
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight;
    const h = this.rowHeight();
    const n = this.view.length;
    const spacerHeight = n * h + "px";
    if (this.spacer.style.height !== spacerHeight) {
      this.spacer.style.height = spacerHeight;
      // A short list takes only its own height (see style.css).
      this.viewport.style.setProperty("--content", spacerHeight);
      // Rows out of view are not in the page: tell assistive technology
      // how many there are (the header row counts).
      this.viewport.parentElement.setAttribute("aria-rowcount", n + 1);
    }
    const first = Math.max(0, Math.floor(top / h) - OVERSCAN);
    const last = Math.min(n, Math.ceil((top + height) / h) + OVERSCAN);
    while (this.pool.length < last - first) this.pool.push(this.makeRow());
    for (let i = 0; i < this.pool.length; i++) {
      const row = this.pool[i];
      const index = first + i;
      if (index >= last) { if (!row.hidden) row.hidden = true; continue; }
      if (row.hidden) row.hidden = false;
      this.fill(row, this.view[index], index, h);
    }
    const all = this.header.querySelector("#select-all");
    const every = n > 0 && this.selected.size >= n && this.view.every((t) => this.selected.has(t.info_hash));
    if (all.checked !== every) all.checked = every;
  }

  makeRow() {
    const row = el("div", "row");
    row.setAttribute("role", "row");
    const check = el("input", "select");
    check.type = "checkbox";
    const c0 = el("div", "cell check");
    c0.setAttribute("role", "cell");
    c0.append(check);
    row.append(c0);
    row.cells = {};
    for (const c of COLUMNS) {
      const cell = el("div", "cell " + c.key);
      cell.setAttribute("role", "cell");
      if (c.key === "name") {
        const b = el("button", "open");
        b.type = "button";
        cell.append(b);
        row.open = b;
      } else if (c.key === "progress") {
        const bar = el("span", "bar");
        row.fill = el("span");
        bar.append(row.fill);
        row.pct = el("span", "pct");
        cell.append(bar, row.pct);
      }
      row.cells[c.key] = cell;
      row.append(cell);
    }
    const actions = el("div", "cell actions");
    actions.setAttribute("role", "cell");
    row.toggle = el("button", "toggle");
    row.toggle.type = "button";
    row.remove = el("button", "danger remove", "✕");
    row.remove.type = "button";
    row.remove.dataset.action = "remove";
    actions.append(row.toggle, row.remove);
    row.append(actions);
    row.check = check;
    this.spacer.append(row);
    return row;
  }

  /** Shows `t` in `row`, writing only what changed (writes cost layout). */
  fill(row, t, index, h) {
    if (row.index !== index || row.h !== h) {
      row.index = index;
      row.h = h;
      row.style.transform = "translateY(" + index * h + "px)";
      row.dataset.index = index;
      row.setAttribute("aria-rowindex", index + 2);
    }
    const selected = this.selected.has(t.info_hash);
    const cls = "row " + t.status + (selected ? " selected" : "");
    if (row.className !== cls) row.className = cls;
    if (row.check.checked !== selected) row.check.checked = selected;
    if (row.dataset.hash !== t.info_hash || row.name !== t.name) {
      row.dataset.hash = t.info_hash;
      row.name = t.name;
      row.check.setAttribute("aria-label", "Select " + t.name);
      row.open.textContent = t.name;
      row.open.title = t.name;
      row.remove.setAttribute("aria-label", "Remove " + t.name);
      row.remove.title = "Remove";
      row.stopped = undefined;
    }
    for (const c of COLUMNS) {
      if (c.key === "name" || c.key === "progress") continue;
      setText(row.cells[c.key], c.text(t));
    }
    const status = fmt.status(t);
    if (row.cells.status.title !== status) row.cells.status.title = status;
    const width = (t.progress * 100).toFixed(1) + "%";
    if (row.fill.style.width !== width) row.fill.style.width = width;
    setText(row.pct, fmt.percent(t.progress));
    // A torrent stopped by an error (a full disk) is started like a stopped one.
    const stopped = t.paused || t.status === "error";
    if (row.stopped !== stopped) {
      row.stopped = stopped;
      row.toggle.dataset.action = stopped ? "start" : "stop";
      row.toggle.textContent = stopped ? "▶" : "■";
      row.toggle.setAttribute("aria-label", (stopped ? "Start " : "Stop ") + t.name);
      row.toggle.title = stopped ? "Start" : "Stop";
    }
  }

  click(e) {
    const row = e.target.closest(".row");
    if (!row) return;
    const hash = row.dataset.hash;
    const index = Number(row.dataset.index);
    if (e.target.classList.contains("select")) {
      const on = e.target.checked;
      if (e.shiftKey && this.lastClicked >= 0) {
        const [a, b] = [Math.min(this.lastClicked, index), Math.max(this.lastClicked, index)];
        for (const t of this.view.slice(a, b + 1)) on ? this.selected.add(t.info_hash) : this.selected.delete(t.info_hash);
      } else if (on) this.selected.add(hash);
      else this.selected.delete(hash);
      this.lastClicked = index;
      this.schedule();
      this.changed();
      return;
    }
    const action = e.target.closest("[data-action]");
    if (action) { this.onAction(action.dataset.action, [hash]); return; }
    if (e.target.closest(".open")) this.onOpen(hash);
  }
}
