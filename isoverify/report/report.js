// isoverify's page: details made from the page's data when opened, as text only; filters, offline.
"use strict";
const details = JSON.parse(document.getElementById("iso-data").textContent);

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

function side(title, pieces) {
  const column = element("div");
  column.append(element("b", "", title));
  for (const piece of pieces) {
    const block = element("div", "iso-evidence");
    block.append(element("div", "iso-command", piece.label), element("pre", "", piece.text));
    column.append(block);
  }
  return column;
}

function fill(fold) {
  let missing = 0;
  for (const number of fold.dataset.records.split(" ")) {
    const record = details[number];
    if (!record) { missing += 1; continue; }
    const detail = element("div", "iso-detail");
    const sides = element("div", "iso-sides");
    sides.append(side("On the host", record.evidence.host), side("The container", record.evidence.container));
    detail.append(element("b", "", record.target), element("div", "iso-summary", record.summary), sides);
    fold.append(detail);
  }
  if (missing) fold.append(element("p", "iso-note", `${missing} more: their evidence is in the JSON results.`));
}

document.addEventListener("toggle", (event) => {
  const fold = event.target;
  if (fold.matches && fold.matches("details.iso-more") && fold.open && !fold.dataset.filled) {
    fold.dataset.filled = "1";
    fill(fold);
  }
}, true);

function filter() {
  const hidden = new Set([...document.querySelectorAll("#iso-filters input[type=checkbox]")]
    .filter((box) => !box.checked).map((box) => box.value));
  const target = document.getElementById("iso-filter-target").value.toLowerCase();
  const control = document.getElementById("iso-filter-control").value;
  const groups = new Set();
  for (const section of document.querySelectorAll("section.iso-group")) {
    if (!target || section.dataset.targets.toLowerCase().includes(target)) groups.add(section.id);
  }
  for (const shown of document.querySelectorAll("[data-verdict], [data-targets], [data-groups], [data-controls]")) {
    const data = shown.dataset;
    shown.hidden = (data.verdict !== undefined && hidden.has(data.verdict))
      || (target && data.targets !== undefined && !data.targets.toLowerCase().includes(target))
      || (target && data.groups !== undefined && !data.groups.split(" ").some((id) => groups.has(id)))
      || (control && data.controls !== undefined && !data.controls.split("\n").includes(control));
  }
}

for (const event of ["input", "change"]) document.getElementById("iso-filters").addEventListener(event, filter);
