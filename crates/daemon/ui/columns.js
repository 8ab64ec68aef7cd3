// The torrent list's columns: how each is shown, sorted and filtered.

import * as fmt from "./format.js";

/** Sortable columns: key, header label, sort value, cell text. */
export const COLUMNS = [
  { key: "name", label: "Name", value: (t) => t.name.toLowerCase(), text: (t) => t.name },
  { key: "size", label: "Size", value: (t) => t.size_when_done, text: (t) => fmt.bytes(t.size_when_done) },
  { key: "progress", label: "Progress", value: (t) => t.progress, text: (t) => fmt.percent(t.progress) },
  { key: "status", label: "Status", value: (t) => t.status, text: fmt.status },
  { key: "down", label: "Down", value: (t) => t.download_rate, text: (t) => fmt.rate(t.download_rate) },
  { key: "up", label: "Up", value: (t) => t.upload_rate, text: (t) => fmt.rate(t.upload_rate) },
  { key: "eta", label: "ETA", value: (t) => (t.eta < 0 ? Infinity : t.eta), text: (t) => fmt.eta(t.eta, t) },
  { key: "ratio", label: "Ratio", value: (t) => t.ratio, text: (t) => fmt.ratio(t.ratio) },
  { key: "added", label: "Added", value: (t) => t.added_at, text: (t) => fmt.date(t.added_at) },
  { key: "label", label: "Label", value: (t) => t.labels.join(",").toLowerCase(), text: (t) => t.labels.join(", ") },
];

/** State filters: key, label, test. */
export const STATES = [
  { key: "all", label: "All", test: () => true },
  { key: "downloading", label: "Downloading", test: (t) => t.status === "downloading" || t.status === "fetching_metadata" },
  { key: "seeding", label: "Seeding", test: (t) => t.status === "seeding" },
  { key: "active", label: "Active", test: (t) => t.download_rate > 0 || t.upload_rate > 0 },
  { key: "stopped", label: "Stopped", test: (t) => t.status === "stopped" },
  { key: "queued", label: "Queued", test: (t) => t.status === "queued" },
  {
    key: "checking",
    label: "Checking",
    test: (t) => t.status === "checking" || t.status === "queued_for_check",
  },
  { key: "error", label: "Error", test: (t) => t.status === "error" },
];

/** The label filter value that matches torrents with no label. */
export const NO_LABEL = "\u0000none";

/** The torrents that pass the filters, sorted. */
export function arrange(torrents, { state, label, text, sortKey, sortDir }) {
  const test = (STATES.find((s) => s.key === state) || STATES[0]).test;
  const needle = text.trim().toLowerCase();
  const out = torrents.filter((t) =>
    test(t)
    && (!label || (label === NO_LABEL ? t.labels.length === 0 : t.labels.includes(label)))
    && (!needle || t.name.toLowerCase().includes(needle) || t.info_hash.startsWith(needle)));
  const col = COLUMNS.find((c) => c.key === sortKey);
  if (col) {
    const dir = sortDir === "descending" ? -1 : 1;
    // Values are computed once per torrent, not once per comparison.
    const keyed = out.map((t) => [col.value(t), t]);
    keyed.sort((a, b) => (a[0] < b[0] ? -dir : a[0] > b[0] ? dir : a[1].id - b[1].id));
    return keyed.map((k) => k[1]);
  }
  return out;
}

/** Every label in use, sorted. */
export function labels(torrents) {
  const all = new Set();
  for (const t of torrents) for (const l of t.labels) all.add(l);
  return [...all].sort();
}
