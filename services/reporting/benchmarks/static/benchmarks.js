// qaloop benchmarking view: vanilla JS, no build step. Uses the dashboard's session (its
// bearer token in sessionStorage), reads GET /v1/benchmarks and draws one table. Every text
// from the API goes into the page through textContent, never as HTML.
"use strict";

(() => {
  const TOKEN_KEY = "qaloop.dashboard.token"; // the dashboard's (services/reporting/dashboard)
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined && v !== false) node.setAttribute(k, String(v));
    for (const c of children) if (c !== null && c !== undefined) node.append(typeof c === "string" ? document.createTextNode(c) : c);
    return node;
  }

  const token = sessionStorage.getItem(TOKEN_KEY);

  async function api(path, params = {}) {
    const query = new URLSearchParams(params);
    const response = await fetch(query.toString() ? `${path}?${query}` : path, {
      headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    });
    if (response.status === 401 || response.status === 403) throw Object.assign(new Error("signed out"), { auth: true });
    if (!response.ok) {
      let why = response.statusText;
      try {
        const body = await response.json();
        why = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail || why;
      } catch (_) {
        /* not JSON */
      }
      throw new Error(`${response.status} ${why}`);
    }
    return response.json();
  }

  function ordinal(n) {
    const suffix = n % 100 >= 10 && n % 100 <= 20 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
    return `${n}${suffix}`;
  }

  function figure(b, value) {
    if (value === null || value === undefined) return "—";
    return b.unit === "rate" ? `${(value * 100).toFixed(1)}%` : Number(value).toFixed(1);
  }

  const rank = (s) => (s.rank === null ? "not ranked" : `${ordinal(s.rank)} of ${s.of}`);

  function ourValue(b) {
    if (b.value === null) return "no figure";
    return `${figure(b, b.value)} (${b.source})`;
  }

  function renderTable(body) {
    const rows = body.benchmarks;
    if (!rows.length) {
      $("bm-table").replaceChildren(el("p", {}, `No comparator figures for ${body.period}. Import them with `, el("code", {}, "qaloop benchmarks import FILE"), "."));
      return;
    }
    const headers = ["Measure", "Our figure", "Neighbours' mean", "Rank among neighbours", "Region", "Rank in region", "England", "Rank nationally"];
    const table = el("table", { id: "bm-results" }, el("caption", { class: "visually-hidden" }, `Benchmarks for ${body.period}`));
    table.append(el("thead", {}, el("tr", {}, ...headers.map((h, i) => el("th", { scope: "col", class: i ? "num" : null }, h)))));
    const tbody = el("tbody");
    for (const b of rows) {
      const better = b.higher_is_better ? "higher is better" : "lower is better";
      const n = b.neighbours;
      tbody.append(
        el(
          "tr",
          { "data-kpi": b.kpi },
          el("th", { scope: "row" }, b.title, el("br"), el("span", { class: "hint" }, `${better}; ${b.summary}`)),
          el("td", { class: "num" }, ourValue(b)),
          el("td", { class: "num" }, `${figure(b, n.mean)}${n.listed ? ` (${n.counted} of ${n.listed})` : ""}`),
          el("td", { class: "num" }, rank(n)),
          el("td", { class: "num" }, `${figure(b, b.region.value)}${b.region.name ? ` (${b.region.name})` : ""}`),
          el("td", { class: "num" }, rank(b.region)),
          el("td", { class: "num" }, figure(b, b.england.value)),
          el("td", { class: "num" }, rank(b.england)),
        ),
      );
    }
    table.append(tbody);
    $("bm-table").replaceChildren(table);
  }

  function renderNeighbours(body) {
    const a = body.authority;
    const where = a.name ? `${a.name} (${a.code}), ${a.region_name}` : `${a.code} (not in the imported neighbour list)`;
    const list = body.neighbours.length
      ? el("ol", {}, ...body.neighbours.map((n) => el("li", {}, n.name ? `${n.name} (${n.code}), ${n.region_name}` : n.code)))
      : el("p", {}, "No statistical neighbours imported.");
    $("bm-neighbours").replaceChildren(el("p", {}, `Our authority: ${where}.`), list);
  }

  function renderLive(body) {
    const live = body.live_comparison;
    if (!live.opted_in) {
      $("bm-live").replaceChildren(el("p", {}, "Not opted in: live figures are compared only between authorities that have each opted in (role reporting:admin: PUT /v1/benchmarks/live-comparison)."));
      return;
    }
    if (!live.peers.length) {
      $("bm-live").replaceChildren(el("p", {}, "Opted in; no other authority on this service has opted in yet."));
      return;
    }
    const headers = ["Measure", ...live.peers];
    const table = el("table", {}, el("caption", { class: "visually-hidden" }, "Live figures of other authorities"));
    table.append(el("thead", {}, el("tr", {}, ...headers.map((h, i) => el("th", { scope: "col", class: i ? "num" : null }, h)))));
    table.append(
      el(
        "tbody",
        {},
        ...body.benchmarks.map((b) => {
          const byPeer = new Map(b.live.map((p) => [p.authority, p]));
          const cells = live.peers.map((code) => {
            const p = byPeer.get(code);
            return el("td", { class: "num" }, !p ? "—" : p.suppressed ? "suppressed" : figure(b, p.value));
          });
          return el("tr", {}, el("th", { scope: "row" }, b.title), ...cells);
        }),
      ),
    );
    $("bm-live").replaceChildren(el("p", { class: "hint" }, "Small numbers are suppressed, as in a published table."), table);
  }

  async function show(period) {
    $("bm-status").textContent = `Loading ${period}…`;
    $("bm-error").textContent = "";
    try {
      const body = await api("/v1/benchmarks", { period });
      renderTable(body);
      renderNeighbours(body);
      renderLive(body);
      $("bm-status").textContent = `Showing ${body.period}: ${body.benchmarks.length} measures with comparators.`;
      history.replaceState(null, "", `?period=${encodeURIComponent(period)}`);
    } catch (e) {
      if (e.auth) return signIn();
      $("bm-status").textContent = "";
      $("bm-error").textContent = `Could not load the comparison: ${e.message}`;
    }
  }

  function signIn() {
    $("bm-view").hidden = true;
    $("bm-signin").hidden = false;
  }

  async function start() {
    if (!token) return signIn();
    let years = [];
    let chosen = new URLSearchParams(location.search).get("period") || "";
    try {
      const inventory = await api("/v1/dashboard/breakdowns");
      years = inventory.periods.filter((p) => p.kind === "year").map((p) => p.id);
      if (!chosen) chosen = years.find((y) => inventory.default_period.startsWith(y)) || years[0] || "";
    } catch (e) {
      if (e.auth) return signIn();
      $("bm-error").textContent = `Could not load the years: ${e.message}`;
    }
    if (chosen && !years.includes(chosen)) years.unshift(chosen);
    const select = $("bm-period");
    select.replaceChildren(...years.map((y) => el("option", { value: y }, `Financial year ${y}`)));
    select.value = chosen;
    select.addEventListener("change", () => show(select.value));
    $("bm-view").hidden = false;
    if (chosen) await show(chosen);
  }

  start();
})();
