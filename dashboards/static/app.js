// stackatlas pages: the URL query is the state; charts come from /v1/charts/{name}.json.
(function () {
  "use strict";
  const MULTI = ["layer", "category"];
  // The Vega bundle loads async after this script: charts fetch their data meanwhile.
  let vegaLoaded;
  const vegaReady = new Promise((resolve) => { vegaLoaded = resolve; });
  window.stackatlasVegaLoaded = () => vegaLoaded();

  function readForm(form) {
    const params = new URLSearchParams();
    if (!form) return params;
    for (const element of form.elements) {
      if (!element.name || element.disabled) continue;
      if ((element.type === "radio" || element.type === "checkbox") && !element.checked) continue;
      if (element.value === "") continue;
      params.append(element.name, element.value);
    }
    return params;
  }

  function writeForm(form, params, defaults) {
    if (!form) return;
    for (const element of form.elements) {
      if (!element.name) continue;
      const values = params.getAll(element.name);
      const fallback = defaults[element.name];
      if (element.type === "radio") {
        const wanted = values[0] || fallback || element.form.querySelector(
          `input[name="${element.name}"]`).value;
        element.checked = element.value === wanted;
      } else if (element.type === "checkbox") {
        element.checked = values.includes(element.value);
      } else if (element.tagName === "SELECT") {
        element.value = values[0] || fallback || element.options[0].value;
      } else if (element.tagName !== "BUTTON") {
        element.value = values[0] || "";
      }
    }
  }

  function withFixed(params, fixed) {
    const merged = new URLSearchParams(params);
    for (const [key, value] of Object.entries(fixed)) merged.set(key, value);
    return merged;
  }

  function pruneDefaults(params, defaults) {
    // Keep shared URLs short: a value equal to the page default is left out.
    const pruned = new URLSearchParams();
    for (const [key, value] of params) {
      if (!MULTI.includes(key) && defaults[key] === value) continue;
      pruned.append(key, value);
    }
    return pruned;
  }

  function adapt(spec) {
    const narrow = window.innerWidth < 640;
    spec.config = spec.config || {};
    spec.config.legend = Object.assign({}, spec.config.legend, { columns: narrow ? 2 : 4 });
    if (narrow) spec.height = 280;
    spec.autosize = { type: "fit-x", contains: "padding" };
    return spec;
  }

  async function drawChart(block) {
    const name = block.dataset.chart;
    const fixed = JSON.parse(block.dataset.fixed || "{}");
    const defaults = Object.assign(
      { basis: "created", level: "category", yscale: "linear", estimate: "true" },
      JSON.parse(block.dataset.defaults || "{}"));
    const form = block.querySelector("form");
    const status = block.querySelector("#chart-status");
    const target = block.querySelector("#chart");

    writeForm(form, new URLSearchParams(window.location.search), defaults);

    async function draw() {
      const chosen = pruneDefaults(readForm(form), defaults);
      const query = withFixed(readForm(form), fixed);
      const shown = chosen.toString();
      history.replaceState(null, "", shown ? `?${shown}` : window.location.pathname);
      const qs = query.toString();
      for (const link of block.querySelectorAll("a[data-format]")) {
        const extra = link.dataset.dpi ? `${qs ? "&" : ""}dpi=${link.dataset.dpi}` : "";
        link.href = `/v1/charts/${name}.${link.dataset.format}?${qs}${extra}`;
      }
      const embed = block.querySelector("#embed-code");
      if (embed) {
        const url = `${window.location.origin}/v1/charts/${name}.svg?${qs}`;
        embed.value = `![${target.getAttribute("aria-label")}](${url})`;
      }
      status.textContent = "Loading the chart…";
      block.dataset.state = "loading";
      const response = await fetch(`/v1/charts/${name}.json?${qs}`);
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        const error = body.error || {};
        status.textContent = `${error.message || response.statusText} ${error.hint || ""}`;
        block.dataset.state = "error";
        return;
      }
      const spec = adapt(await response.json());
      await vegaReady;
      await window.vegaEmbed(target, spec, { renderer: "svg", actions: false });
      const rows = Object.values(spec.datasets || {}).reduce((n, d) => n + d.length, 0);
      status.textContent = rows ? "" : "No repositories match these choices.";
      block.dataset.state = "drawn";
      window.stackatlasDrawn = (window.stackatlasDrawn || 0) + 1;
      if (!window.stackatlasFirstDraw) window.stackatlasFirstDraw = performance.now();
    }

    if (form) {
      form.addEventListener("change", draw);
      form.addEventListener("reset", () => setTimeout(() => {
        writeForm(form, new URLSearchParams(), defaults);
        draw();
      }, 0));
    }
    await draw();
  }

  // --- the repository explorer -----------------------------------------------------------
  const PAGE = 50;

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text == null ? "" : text;
    return td;
  }

  function renderResults(target, items) {
    const table = document.createElement("table");
    table.innerHTML = "<thead><tr><th>repository</th><th>stars</th><th>layer</th>" +
      "<th>category</th><th>language</th><th class='desc'>description</th></tr></thead>";
    const body = document.createElement("tbody");
    for (const item of items) {
      const row = document.createElement("tr");
      const name = document.createElement("td");
      const link = document.createElement("a");
      link.href = `/repository/${item.full_name}`;
      link.textContent = item.full_name;
      name.appendChild(link);
      row.appendChild(name);
      const label = item.label || {};
      row.appendChild(cell((item.stars || 0).toLocaleString("en"), "n"));
      row.appendChild(cell(label.layer || "—"));
      row.appendChild(cell(label.category || "—"));
      row.appendChild(cell(item.language || ""));
      row.appendChild(cell(item.description || "", "desc"));
      body.appendChild(row);
    }
    table.appendChild(body);
    target.replaceChildren(table);
  }

  function renderFacets(target, facets, form, onPick) {
    target.replaceChildren();
    for (const [field, counts] of Object.entries(facets)) {
      const box = document.createElement("div");
      const title = document.createElement("h3");
      title.textContent = field;
      box.appendChild(title);
      const list = document.createElement("ul");
      for (const [value, count] of counts) {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "facet";
        button.textContent = `${value} (${count.toLocaleString("en")})`;
        button.addEventListener("click", () => onPick(field, value));
        li.appendChild(button);
        list.appendChild(li);
      }
      box.appendChild(list);
      target.appendChild(box);
    }
  }

  function facetPairs(raw) {
    // Accepts the API's {field: {values: [{value, count}], truncated}}, or {field: {value: n}}.
    const out = {};
    for (const [field, values] of Object.entries(raw || {})) {
      const list = Array.isArray(values) ? values : values.values;
      out[field] = Array.isArray(list)
        ? list.map((v) => [v.value == null ? "none" : String(v.value), v.count])
        : Object.entries(values);
    }
    return out;
  }

  async function summaryFacets() {
    const response = await fetch("/v1/summary");
    if (!response.ok) return {};
    const summary = await response.json();
    return {
      layer: summary.layers.map((l) => [l.layer, l.repos]),
      category: summary.layers.flatMap((l) => l.categories.map((c) => [c.category, c.repos])),
    };
  }

  async function explorer(form) {
    let offset = 0;
    writeForm(form, new URLSearchParams(window.location.search), { sort: "-stars" });
    offset = Number(new URLSearchParams(window.location.search).get("offset") || 0);
    const results = document.getElementById("results");
    const count = document.getElementById("result-count");

    async function load() {
      const params = readForm(form);
      if (params.get("sort") === "-stars") params.delete("sort");
      const shown = new URLSearchParams(params);
      if (offset) shown.set("offset", offset);
      history.replaceState(null, "", shown.toString() ? `?${shown}` : window.location.pathname);
      params.set("limit", PAGE);
      params.set("offset", offset);
      for (const name of ["layer", "category", "language"]) params.append("facet", name);
      const response = await fetch(`/v1/repos?${params}`);
      const body = await response.json();
      if (!response.ok) {
        count.textContent = `${body.error.message} — ${body.error.hint}`;
        document.body.dataset.state = "error";
        return;
      }
      renderResults(results, body.items);
      const total = body.total != null ? body.total : body.items.length;
      count.textContent = `${total.toLocaleString("en")} repositories` +
        (total ? ` · showing ${offset + 1}–${offset + body.items.length}` : "");
      document.getElementById("prev").disabled = offset === 0;
      document.getElementById("next").disabled = offset + body.items.length >= total;
      const facets = body.facets ? facetPairs(body.facets) : await summaryFacets();
      renderFacets(document.getElementById("facets"), facets, form, (field, value) => {
        const element = form.elements[field];
        if (element) element.value = value;
        offset = 0;
        load();
      });
      document.body.dataset.state = "drawn";
    }

    form.addEventListener("change", () => { offset = 0; load(); });
    form.addEventListener("submit", (event) => { event.preventDefault(); offset = 0; load(); });
    document.getElementById("prev").addEventListener("click", () => {
      offset = Math.max(0, offset - PAGE); load();
    });
    document.getElementById("next").addEventListener("click", () => { offset += PAGE; load(); });
    await load();
  }

  function start() {
    for (const block of document.querySelectorAll("[data-chart]")) {
      drawChart(block).catch((error) => {
        block.dataset.state = "error";
        console.error(error);
      });
    }
    const form = document.getElementById("explorer");
    if (form) explorer(form).catch((error) => console.error(error));
  }

  // The script sits at the end of <body>: the page's elements already exist.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
