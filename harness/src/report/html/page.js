// Filters of the netpol report. Initial values come from the query string so
// that a link can carry them; `?open=a,b` opens cases, `#case-NAME` opens one.
(function () {
  "use strict";
  const cases = Array.from(document.querySelectorAll("details.case"));
  const tag = document.getElementById("filter-tag");
  const name = document.getElementById("filter-name");
  const differs = document.getElementById("filter-differs");
  const verdicts = Array.from(document.querySelectorAll("#filter-verdict input"));
  const count = document.getElementById("filter-count");

  function apply() {
    const wantedTag = tag.value;
    const part = name.value.trim().toLowerCase();
    const wanted = verdicts.filter((v) => v.checked).map((v) => v.value);
    let shown = 0;
    for (const c of cases) {
      const visible =
        (!wantedTag || c.dataset.tags.split(" ").includes(wantedTag)) &&
        (!part || c.dataset.name.includes(part)) &&
        (!differs.checked || c.dataset.differs === "true") &&
        c.dataset.verdicts.split(" ").some((v) => wanted.includes(v));
      c.hidden = !visible;
      if (visible) shown += 1;
    }
    count.textContent = shown + " of " + cases.length + " cases";
  }

  const query = new URLSearchParams(window.location.search);
  if (query.has("tag")) tag.value = query.get("tag");
  if (query.has("name")) name.value = query.get("name");
  if (query.get("differs") === "1") differs.checked = true;
  if (query.has("verdict")) {
    const wanted = query.getAll("verdict").flatMap((v) => v.split(","));
    for (const v of verdicts) v.checked = wanted.includes(v.value);
  }
  for (const wanted of (query.get("open") || "").split(",")) {
    const c = document.getElementById("case-" + wanted);
    if (wanted && c) c.open = true;
  }
  if (window.location.hash.startsWith("#case-")) {
    const c = document.getElementById(decodeURIComponent(window.location.hash.slice(1)));
    if (c) {
      c.open = true;
      c.scrollIntoView();
    }
  }

  for (const input of [tag, name, differs, ...verdicts]) {
    input.addEventListener("input", apply);
    input.addEventListener("change", apply);
  }
  // Features of the support matrix and tags of a case filter by their tag.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-filter-tag]");
    if (!link) return;
    event.preventDefault();
    tag.value = link.dataset.filterTag;
    apply();
    document.getElementById("cases").scrollIntoView();
  });
  document.getElementById("open-all").addEventListener("click", () => {
    for (const c of cases) if (!c.hidden) c.open = true;
  });
  document.getElementById("close-all").addEventListener("click", () => {
    for (const c of cases) c.open = false;
  });
  document.getElementById("filters").addEventListener("submit", (e) => e.preventDefault());

  apply();
  document.body.dataset.ready = "true";
})();
