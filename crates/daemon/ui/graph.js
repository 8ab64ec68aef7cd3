// The speed graph: total download and upload rate over the last five
// minutes, drawn on a canvas.

const SECONDS = 300;
const samples = [];
let last = 0;

/** Records the totals (at most one sample a second) and redraws. */
export function sample(down, up, nowMs) {
  if (nowMs - last < 1000) return;
  last = nowMs;
  samples.push([down, up]);
  if (samples.length > SECONDS) samples.shift();
  draw();
}

/** How many samples the graph holds. */
export function count() {
  return samples.length;
}

// The canvas' size on screen, kept by a ResizeObserver so drawing never
// forces a layout.
let cssW = 300, cssH = 70;
const observer = new ResizeObserver((entries) => {
  for (const e of entries) { cssW = e.contentRect.width || cssW; cssH = e.contentRect.height || cssH; }
  if (samples.length) draw();
});
observer.observe(document.getElementById("graph"));

function draw() {
  const canvas = document.getElementById("graph");
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(cssW * dpr), h = Math.round(cssH * dpr);
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  if (canvas.dataset.samples !== String(samples.length)) canvas.dataset.samples = samples.length;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  const max = Math.max(1024, ...samples.map(([d, u]) => Math.max(d, u)));
  const x = (i) => w - (samples.length - 1 - i) * (w / (SECONDS - 1));
  const y = (v) => h - 2 * dpr - (v / max) * (h - 14 * dpr);
  const line = (which, color) => {
    ctx.beginPath();
    samples.forEach((s, i) => (i ? ctx.lineTo(x(i), y(s[which])) : ctx.moveTo(x(i), y(s[which]))));
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5 * dpr;
    ctx.stroke();
  };
  const css = getComputedStyle(document.documentElement);
  line(0, css.getPropertyValue("--accent").trim() || "#1f6feb");
  line(1, css.getPropertyValue("--ok").trim() || "#2da44e");
  ctx.fillStyle = css.getPropertyValue("--muted").trim() || "#6b7685";
  ctx.font = 11 * dpr + "px system-ui, sans-serif";
  ctx.fillText("peak " + (max / 1048576).toFixed(2) + " MiB/s · ↓ blue ↑ green · 5 min", 4 * dpr, 11 * dpr);
}
