// Categories with their save paths (/api/v1/categories, the store the
// qBittorrent API shares): listed, added, changed and removed from the
// settings dialog at once; offered in a torrent's options.

import * as api from "./api.js";

const $ = (id) => document.getElementById(id);

let notify = () => {};

const button = (text, label, cls, onClick) => {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.className = cls;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
};

async function change(method, body, done) {
  try {
    draw(await api.send(method, "/categories", body));
    notify(done);
    $("settings-message").textContent = "";
  } catch (e) {
    $("settings-message").textContent = e.message;
  }
}

function draw(categories) {
  $("category-list").replaceChildren(...Object.entries(categories).map(([name, c]) => {
    const li = document.createElement("li");
    li.dataset.name = name;
    const title = document.createElement("span");
    title.className = "category-name";
    title.textContent = name;
    const path = document.createElement("input");
    path.type = "text";
    path.value = c.save_path;
    path.placeholder = "(default download directory)";
    path.className = "category-path";
    path.setAttribute("aria-label", "Save path of category " + name);
    li.append(
      title, path,
      button("Save", "Save category " + name, "category-save", () =>
        change("PATCH", { name, save_path: path.value.trim() }, "category " + name + " saved")),
      button("✕", "Remove category " + name, "danger category-remove", () =>
        change("DELETE", { names: [name] }, "category " + name + " removed")),
    );
    return li;
  }));
}

/** Reads the categories into the settings dialog. */
export async function load() {
  draw(await api.get("/categories"));
}

/** Fills a select with "none" and every category, choosing `current`. */
export async function fillSelect(select, current) {
  const categories = (await api.get("/categories")) || {};
  const names = Object.keys(categories);
  if (current && !names.includes(current)) names.push(current);
  select.replaceChildren(...["", ...names].map((n) => {
    const o = document.createElement("option");
    o.value = n;
    o.textContent = n || "(none)";
    return o;
  }));
  select.value = current || "";
}

/** Wires the new-category row; `report(text, isError)` tells the outcome. */
export function setup(report) {
  notify = report;
  $("category-add").addEventListener("click", () => {
    const name = $("category-name").value.trim();
    if (!name) { $("settings-message").textContent = "a category needs a name"; return; }
    change("POST", { name, save_path: $("category-path").value.trim() }, "category " + name + " added").then(() => {
      if (!$("settings-message").textContent) { $("category-name").value = ""; $("category-path").value = ""; }
    });
  });
}
