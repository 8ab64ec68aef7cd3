// Tiny generated .torrent files for the browser test (one 16 KiB piece
// each, content nowhere: added paused, they cost the daemon little).
import { createHash } from "node:crypto";

/** Bencodes numbers, strings, buffers, arrays and objects (keys sorted). */
export function bencode(v) {
  if (typeof v === "number") return Buffer.from("i" + Math.trunc(v) + "e");
  if (typeof v === "string") return bencode(Buffer.from(v));
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from(v.length + ":"), v]);
  if (Array.isArray(v)) return Buffer.concat([Buffer.from("l"), ...v.map(bencode), Buffer.from("e")]);
  const keys = Object.keys(v).sort();
  return Buffer.concat([Buffer.from("d"), ...keys.flatMap((k) => [bencode(k), bencode(v[k])]), Buffer.from("e")]);
}

/** A one-file torrent called `name`. */
export function tinyTorrent(name) {
  const info = { length: 16384, name, "piece length": 16384, pieces: createHash("sha1").update(name).digest() };
  return bencode({ info });
}
