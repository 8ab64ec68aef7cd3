// Number, time and size formatting shared by the views.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** Bytes as "1.5 MiB". */
export function bytes(n) {
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(Math.round(n)) : n.toFixed(1)) + " " + UNITS[i];
}

/** Bytes per second as "1.5 MiB/s" (empty when nothing moves, to keep rows quiet). */
export function rate(n) {
  return n > 0 ? bytes(n) + "/s" : "–";
}

/** Seconds left as "3m 20s"; the API's -1 means unknown or done. */
export function eta(s, t) {
  if (t && !t.has_metadata) return "?";
  if (t && t.left_until_done === 0) return "done";
  if (s < 0) return t && t.status === "downloading" ? "stalled" : "∞";
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
}

/** A share 0–1 as "12.3%". */
export function percent(p) {
  return (p * 100).toFixed(1) + "%";
}

/** A ratio with two decimals. */
export function ratio(r) {
  return r.toFixed(2);
}

/** Unix seconds as a short local date and time. */
export function date(unix) {
  if (!unix) return "–";
  const d = new Date(unix * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
}

/** A status as shown to people. */
export function status(t) {
  const s = t.status.replaceAll("_", " ");
  const shown = t.error ? s + ": " + t.error : s;
  return t.warning ? shown + " · warning: " + t.warning : shown;
}
