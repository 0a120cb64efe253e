// qaloop dashboard: vanilla JS, no build step. Signs in with a bearer token kept in
// sessionStorage, reads the reporting service's /v1 JSON API and draws inline SVG charts.
// Every text from the API goes into the page through textContent, never as HTML.
"use strict";

(() => {
  const TOKEN_KEY = "qaloop.dashboard.token";
  const POLL_MS = 3000; // how often the page asks whether anything changed
  const FULL_REFRESH_MS = 60000; // redraw at least this often (the clock moves follow-ups)
  const SERIES_MIN_MS = 30000; // trend lines are re-read at most this often while events stream in
  const SERIES_CONCURRENCY = 4;
  const FOLLOWUP_ROWS = 25;
  const FEEDBACK_REFERENCE = 0.6; // below this in a quarter (5+ answers) a follow-up opens
  const SVG_NS = "http://www.w3.org/2000/svg";

  const GROUPS = [
    ["audit.", "Audits"],
    ["feedback.", "Feedback and compliments"],
    ["compliments.", "Feedback and compliments"],
    ["complaints.", "Complaints"],
    ["casework.", "Casework"],
    ["send.", "Casework"],
    ["learning.", "Learning loop"],
    ["workforce.", "Workforce"],
  ];
  const AREA_GOOD = "audit.area_good_or_better_rate.";
  const STAFF_SURVEY = "workforce.survey_positive_rate.";
  const FAMILIES = ["complaints.by_category.", "feedback.positive_rate.", AREA_GOOD, STAFF_SURVEY];
  const REASON_NAMES = {
    management: "Management",
    training_development: "Training and development",
    workload: "Workload",
    pay: "Pay",
    career: "Career",
    personal: "Personal",
    retired: "Retired",
    other: "Other",
  };
  const AREA_NAMES = {
    childrens_social_care: "Children's social care",
    send: "SEND",
    fostering: "Fostering",
    early_help: "Early help",
    youth_justice: "Youth justice",
  };
  const RULE_NAMES = {
    "complaint-learning": "Learning from an upheld complaint",
    "re-audit": "Re-audit",
    "concern-targeted-audit": "Targeted audit for a concern",
    "feedback-response": "Response to low feedback",
    action: "Action",
    "safeguarding-alert": "Safeguarding alert",
    "concern-rework": "Rework of a concern whose measures did not work",
    "inspection-finding": "Action on an inspection finding",
    "workforce-review": "Workforce review (turnover or caseloads)",
  };
  const DAYS_KPI = "complaints.average_response_working_days";
  const TEAMLESS = ["audit.concern_measures_effective_rate"]; // concerns have no team
  const TEAM_KPI_DEFAULT = "complaints.received";
  const CASELOAD_KPI = "workforce.average_caseload"; // cases per FTE, not a fraction

  const state = {
    token: null,
    session: 0, // bumped at every sign-in and sign-out: answers to an older session are dropped
    catalogue: new Map(),
    inventory: null,
    filters: { period: "", service_area: "", team: "", category: "" },
    followupId: "", // the follow-up named in ?followup= (a notifier e-mail's link)
    stamp: null,
    asOf: null,
    lastRefresh: 0,
    refreshing: false,
    pending: null,
    pollTimer: null,
    values: new Map(),
    series: new Map(),
    seriesKey: "",
    renderedKey: "",
    seriesAt: 0,
    tiles: new Map(),
    charts: new Map(),
    unreachable: false,
    teamKpi: TEAM_KPI_DEFAULT,
  };

  class AuthError extends Error {}
  class RoleError extends Error {}
  class StaleSession extends Error {}

  // ------------------------------------------------------------------ DOM helpers

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c !== null && c !== undefined) node.append(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  let idCounter = 0;
  const uid = (prefix) => `${prefix}-${++idCounter}`;

  // ------------------------------------------------------------------ formatting

  const humanize = (id) => {
    const words = String(id).replace(/[_-]+/g, " ").trim();
    return words.charAt(0).toUpperCase() + words.slice(1);
  };
  const areaName = (a) => AREA_NAMES[a] || humanize(a);
  const pct = (x) => `${(x * 100).toFixed(0)}%`;
  const count = (n) => Number(n).toLocaleString("en-GB");

  const MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

  /** A financial year "YYYY-YY" (the year after's last two digits), else a month "YYYY-MM" (CONTRACT.md §2). */
  const isYear = (p) => /^\d{4}-\d{2}$/.test(p || "") && Number(p.slice(5)) === (Number(p.slice(0, 4)) + 1) % 100;

  function periodName(id) {
    const q = /^(\d{4}-\d{2})-Q(\d)$/.exec(id || "");
    if (q) return `${q[1]} Q${q[2]}`;
    const m = /^(\d{4})-(\d{2})$/.exec(id || "");
    if (m && !isYear(id) && Number(m[2]) >= 1 && Number(m[2]) <= 12) return `${MONTH_NAMES[Number(m[2]) - 1]} ${m[1]}`;
    return id;
  }

  function unitOf(kpi) {
    const def = state.catalogue.get(kpi);
    if (def) return def.unit;
    return kpi.startsWith("feedback.positive_rate.") || kpi.startsWith(AREA_GOOD) || kpi.startsWith(STAFF_SURVEY)
      ? "rate"
      : "count";
  }

  function titleOf(kpi) {
    const def = state.catalogue.get(kpi);
    if (def) return def.title;
    if (kpi.startsWith("complaints.by_category.")) return `Complaints: ${humanize(kpi.slice(23))}`;
    if (kpi.startsWith("feedback.positive_rate.")) return `Positive answers: ${humanize(kpi.slice(23))}`;
    if (kpi.startsWith(AREA_GOOD)) return `Audits good or better: ${humanize(kpi.slice(AREA_GOOD.length))}`;
    if (kpi.startsWith(STAFF_SURVEY)) return `Staff survey: ${humanize(kpi.slice(STAFF_SURVEY.length))}`;
    return kpi;
  }

  /** The text a tile shows for a value: "suppressed" plainly, "no data", or the figure. */
  function formatValue(kpi, v) {
    if (!v || v.suppressed) return "suppressed";
    if (v.value === null || v.value === undefined) return "no data";
    if (kpi === DAYS_KPI) return `${Number(v.value).toFixed(1)} days`;
    if (kpi === CASELOAD_KPI) return `${Number(v.value).toFixed(1)} cases per FTE`;
    return unitOf(kpi) === "rate" ? pct(v.value) : count(v.value);
  }

  function formatDetail(kpi, v) {
    if (!v) return "";
    if (v.suppressed) return "Small number: hidden so that no child can be identified";
    if (kpi === DAYS_KPI) return v.denominator ? `over ${count(v.denominator)} responses` : "No responses in this period";
    if (kpi === CASELOAD_KPI) return v.denominator ? `${count(v.numerator)} cases over ${count(v.denominator)} FTE` : "No case-holders in post";
    if (unitOf(kpi) === "rate") {
      if (v.denominator === null || v.denominator === undefined) return "";
      return v.denominator ? `${count(v.numerator)} of ${count(v.denominator)}` : "None in this period";
    }
    return "";
  }

  const RAG_TEXT = { green: "Green: target met", amber: "Amber: near target", red: "Red: below target" };

  // ------------------------------------------------------------------ API

  async function api(path, params = {}, token = state.token, session = state.session) {
    if (!token || session !== state.session) throw new StaleSession(path);
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) query.set(k, v);
    const url = query.toString() ? `${path}?${query}` : path;
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } });
    if (session !== state.session) throw new StaleSession(path);
    if (response.status === 401) throw new AuthError(await reason(response));
    if (response.status === 403) throw new RoleError(await reason(response));
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await reason(response)}`);
    return response.json();
  }

  async function reason(response) {
    try {
      const body = await response.json();
      if (typeof body.detail === "string") return body.detail;
      if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
    } catch (_) {
      /* not JSON */
    }
    return response.statusText;
  }

  // ------------------------------------------------------------------ sign-in

  function showSignin(message = "") {
    stopPolling();
    $("dashboard").hidden = true;
    $("session").hidden = true;
    $("signin").hidden = false;
    $("dev-login-box").hidden = document.body.dataset.devLogin !== "true";
    $("signin-error").textContent = message;
  }

  function claimsOf(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
    } catch (_) {
      return {};
    }
  }

  async function signInWith(token) {
    try {
      const catalogue = await api("/v1/kpis", {}, token);
      sessionStorage.setItem(TOKEN_KEY, token);
      state.token = token;
      state.session += 1;
      state.catalogue = new Map(catalogue.map((d) => [d.id, d]));
      await start();
      return true;
    } catch (e) {
      if (e instanceof AuthError) $("signin-error").textContent = `The reporting service refused this token: ${e.message}.`;
      else if (e instanceof RoleError) $("signin-error").textContent = "This token has no reporting role (reporting:read or reporting:detail).";
      else $("signin-error").textContent = `Cannot reach the reporting service: ${e.message}`;
      return false;
    }
  }

  function signOut(message = "") {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.session += 1;
    state.refreshing = false;
    state.pending = null;
    state.stamp = null;
    showSignin(message);
    $("signin-heading").setAttribute("tabindex", "-1");
    $("signin-heading").focus();
  }

  function wireSignin() {
    $("token-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = $("token-input").value.trim().replace(/^bearer\s+/i, "");
      if (!token) {
        $("signin-error").textContent = "Paste a token first.";
        $("token-input").focus();
        return;
      }
      if (await signInWith(token)) $("token-input").value = "";
    });
    $("dev-login").addEventListener("click", async () => {
      const response = await fetch("/dev-login", { headers: { Accept: "application/json" } });
      if (!response.ok) {
        $("signin-error").textContent = "Development login is not available on this server: paste a token instead.";
        return;
      }
      await signInWith((await response.json()).token);
    });
    $("sign-out").addEventListener("click", () => signOut("Signed out."));
    $("followup-detail-close").addEventListener("click", closeFollowup);
  }

  // ------------------------------------------------------------------ filters

  function readFiltersFromUrl() {
    const q = new URLSearchParams(location.search);
    for (const k of ["period", "service_area", "team", "category"]) state.filters[k] = q.get(k) || "";
    state.followupId = q.get("followup") || "";
  }

  function writeFiltersToUrl() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(state.filters)) if (v) q.set(k, v);
    if (state.followupId) q.set("followup", state.followupId);
    history.replaceState(null, "", q.toString() ? `?${q}` : location.pathname);
  }

  /** Replace a select's options ([value, label] pairs, after an optional "all" option) and keep the choice if it is still offered. */
  function fillSelect(select, options, selected, allLabel = null) {
    const all = allLabel === null ? [] : [["", allLabel]];
    const choices = [...all, ...options];
    select.replaceChildren(...choices.map(([value, label]) => el("option", { value }, label)));
    select.value = choices.some(([v]) => v === selected) ? selected : (choices[0]?.[0] ?? "");
    return select.value;
  }

  function fillFilters() {
    const inv = state.inventory;
    const periods = inv.periods.map((p) => [p.id, p.label]);
    if (state.filters.period && !periods.some(([v]) => v === state.filters.period)) {
      periods.unshift([state.filters.period, periodName(state.filters.period)]);
    }
    state.filters.period = fillSelect($("f-period"), periods, state.filters.period || inv.default_period);
    state.filters.service_area = fillSelect(
      $("f-area"),
      inv.service_areas.map((a) => [a, areaName(a)]),
      state.filters.service_area,
      "All service areas",
    );
    fillTeams();
    fillCategories();
  }

  /** The complaint categories of the period shown (and the one chosen, even if the period has none). */
  function fillCategories() {
    const categories = [...(state.inventory.categories || [])];
    if (state.filters.category && !categories.includes(state.filters.category)) categories.push(state.filters.category);
    const options = categories.sort().map((c) => [c, humanize(c)]);
    state.filters.category = fillSelect($("f-category"), options, state.filters.category, "All categories");
  }

  function fillTeams() {
    const area = state.filters.service_area;
    const seen = new Set();
    const teams = [];
    for (const t of state.inventory.teams) {
      if ((area && t.service_area !== area) || seen.has(t.team)) continue;
      seen.add(t.team);
      teams.push([t.team, area ? t.team : `${t.team} (${areaName(t.service_area)})`]);
    }
    state.filters.team = fillSelect($("f-team"), teams, state.filters.team, "All teams");
  }

  function wireFilters() {
    const onChange = (event) => {
      state.filters.period = $("f-period").value;
      state.filters.service_area = $("f-area").value;
      if (event.target.id === "f-area") fillTeams();
      state.filters.team = $("f-team").value;
      state.filters.category = $("f-category").value;
      writeFiltersToUrl();
      refresh({ series: true });
    };
    for (const id of ["f-period", "f-area", "f-team", "f-category"]) $(id).addEventListener("change", onChange);
    $("f-team-kpi").addEventListener("change", () => {
      state.teamKpi = $("f-team-kpi").value;
      refresh({});
    });
    $("f-live").addEventListener("change", () => {
      announce($("f-live").checked ? "Live updates on." : "Live updates paused.");
      if ($("f-live").checked) refresh({});
    });
  }

  const filterParams = () => ({ service_area: state.filters.service_area, team: state.filters.team, category: state.filters.category });
  const placeParams = () => ({ service_area: state.filters.service_area, team: state.filters.team }); // no category: follow-ups

  function sliceName() {
    const parts = [periodName(state.filters.period)];
    if (state.filters.service_area) parts.push(areaName(state.filters.service_area));
    if (state.filters.team) parts.push(`team ${state.filters.team}`);
    if (state.filters.category) parts.push(`complaints about ${humanize(state.filters.category).toLowerCase()}`);
    return parts.join(", ");
  }

  // ------------------------------------------------------------------ start, refresh, poll

  async function start() {
    $("signin").hidden = true;
    $("dashboard").hidden = false;
    $("session").hidden = false;
    const claims = claimsOf(state.token);
    const roles = Array.isArray(claims.roles) ? claims.roles.join(", ") : "";
    $("session-who").textContent = `Signed in${claims.sub ? ` as ${claims.sub}` : ""}${roles ? ` (${roles})` : ""}`;
    if (!state.catalogue.size) {
      const catalogue = await api("/v1/kpis");
      state.catalogue = new Map(catalogue.map((d) => [d.id, d]));
    }
    readFiltersFromUrl();
    fillTeamKpis();
    state.inventory = await api("/v1/dashboard/breakdowns");
    fillFilters();
    writeFiltersToUrl();
    const stamp = await api("/v1/dashboard/stamp");
    state.stamp = stamp.stamp;
    state.asOf = stamp.as_of;
    await refresh({ series: true });
    await showFollowup();
    schedulePoll();
  }

  // ------------------------------------------------------------------ one follow-up (?followup=)

  /** The follow-up a notifier e-mail links to (`/?followup=ID`), shown above the figures. */
  async function showFollowup() {
    const box = $("followup-detail");
    if (!state.followupId) {
      box.hidden = true;
      return;
    }
    let body;
    try {
      body = await api(`/v1/followups/${encodeURIComponent(state.followupId)}`);
    } catch (e) {
      if (e instanceof StaleSession || e instanceof AuthError) throw e;
      $("followup-detail-body").replaceChildren(
        el("p", { role: "alert" }, "This follow-up was not found for your authority (or it has not opened yet)."),
      );
      box.hidden = false;
      return;
    }
    const f = body.followup;
    const days = (n) => `${n} day${n === 1 ? "" : "s"}`;
    const rows = [
      ["About", followupSubject(f)],
      ["Why", humanize(f.rule)],
      ["Team", f.team || "—"],
      ["Opened", f.opened_on],
      ["Due", f.due_date],
      ["Status", f.status === "overdue" ? `overdue by ${days(f.days_overdue)}` : f.status],
      ["Closed", f.closed_on ? `${f.closed_on}${f.on_time === false ? " (late)" : ""}` : "not yet"],
    ];
    const list = el("dl", { "data-role": "followup-detail" }, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]));
    $("followup-detail-body").replaceChildren(list);
    box.hidden = false;
    box.scrollIntoView({ block: "start" });
  }

  function closeFollowup() {
    state.followupId = "";
    $("followup-detail").hidden = true;
    writeFiltersToUrl();
  }

  function announce(text) {
    $("status").textContent = text;
  }

  async function refresh(opts) {
    if (state.refreshing) {
      state.pending = { series: Boolean(opts.series || state.pending?.series) };
      return;
    }
    state.refreshing = true;
    const session = state.session;
    const asked = { ...state.filters };
    const params = { period: asked.period, ...filterParams() };
    try {
      const teamKpi = state.teamKpi;
      const [values, breakdowns, followups, byTeam] = await Promise.all([
        api("/v1/kpis/values", params),
        api("/v1/dashboard/breakdowns", params),
        api("/v1/followups", { status: "open", ...placeParams() }),
        api("/v1/dashboard/teams", { period: asked.period, service_area: asked.service_area, category: asked.category, kpi: teamKpi }),
      ]);
      if (!sameFilters(asked) || teamKpi !== state.teamKpi) return; // the reader moved on; the pending refresh draws theirs
      if (teamsChanged(breakdowns)) {
        state.inventory = { ...state.inventory, teams: breakdowns.teams, periods: breakdowns.periods };
        fillTeams();
      }
      if (JSON.stringify(breakdowns.categories) !== JSON.stringify(state.inventory.categories)) {
        state.inventory = { ...state.inventory, categories: breakdowns.categories };
        fillCategories();
      }
      // Mark the tiles that moved when new events came in (not when the reader changed the slice).
      const key = JSON.stringify(asked);
      const previous = key === state.renderedKey ? state.values : new Map();
      if (key !== state.renderedKey) for (const tile of state.tiles.values()) tile.root.classList.remove("changed");
      state.renderedKey = key;
      state.values = new Map(values.values.map((v) => [v.kpi, v]));
      renderTiles(values.values, previous, breakdowns.commentary || {});
      renderCategories(breakdowns.complaints_by_category || []);
      renderTeams(breakdowns.complaints_by_team);
      renderGrades();
      renderAuditAreas(values.values);
      renderFeedback(values.values, breakdowns.question_wording || {});
      renderStaffSurvey(values.values);
      renderLeavers(breakdowns.leavers_by_reason);
      renderByTeam(byTeam);
      renderFollowups(followups);
      updateDownloads();
      state.lastRefresh = Date.now();
      setError("");
      announce(`Showing ${sliceName()}. Updated at ${new Date().toLocaleTimeString("en-GB")}.`);
      document.body.dataset.refreshedAt = String(state.lastRefresh);
      if (opts.series || key !== state.seriesKey || Date.now() - state.seriesAt > SERIES_MIN_MS) {
        await loadSeries(asked, key);
      }
    } catch (e) {
      handleError(e);
    } finally {
      if (session === state.session) state.refreshing = false;
      if (session === state.session && state.pending && state.token) {
        const next = state.pending;
        state.pending = null;
        refresh(next);
      }
    }
  }

  const sameFilters = (asked) => Object.keys(asked).every((k) => asked[k] === state.filters[k]);

  function teamsChanged(breakdowns) {
    const now = JSON.stringify(breakdowns.teams);
    return now !== JSON.stringify(state.inventory.teams);
  }

  function handleError(e) {
    if (e instanceof StaleSession) return; // signed out or in again meanwhile
    if (e instanceof AuthError) signOut("Your session has ended: the token expired or was refused. Sign in again.");
    else if (e instanceof RoleError) signOut("This token has no reporting role.");
    else setError(`Cannot reach the reporting service (${e.message}); trying again.`);
  }

  function setError(text) {
    if ($("error").textContent !== text) $("error").textContent = text;
  }

  function schedulePoll() {
    stopPolling();
    state.pollTimer = setTimeout(poll, POLL_MS);
  }

  function stopPolling() {
    if (state.pollTimer) clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }

  async function poll() {
    state.pollTimer = null;
    if (!state.token) return;
    try {
      if ($("f-live").checked && !document.hidden && !state.refreshing) {
        const s = await api("/v1/dashboard/stamp");
        const changed = s.stamp !== state.stamp || s.as_of !== state.asOf;
        state.stamp = s.stamp;
        state.asOf = s.as_of;
        if (changed || Date.now() - state.lastRefresh > FULL_REFRESH_MS) await refresh({});
      }
    } catch (e) {
      handleError(e);
    }
    if (state.token) schedulePoll();
  }

  // ------------------------------------------------------------------ KPI tiles

  const isFamily = (kpi) => FAMILIES.some((f) => kpi.startsWith(f));
  const groupOf = (kpi) => (GROUPS.find(([prefix]) => kpi.startsWith(prefix)) || ["", "Other"])[1];

  function ensureTile(kpi) {
    let tile = state.tiles.get(kpi);
    if (tile) return tile;
    const group = groupOf(kpi);
    let list = document.querySelector(`ul.tiles[data-group="${CSS.escape(group)}"]`);
    if (!list) {
      const headingId = uid("group");
      list = el("ul", { class: "tiles", "data-group": group, "aria-labelledby": headingId });
      $("tiles").append(el("div", { class: "tile-group" }, el("h3", { id: headingId }, group), list));
    }
    const titleId = uid("tile");
    const def = state.catalogue.get(kpi);
    tile = {
      root: el("li", { class: "tile", "data-kpi": kpi, "aria-labelledby": titleId }),
      title: el("h4", { class: "tile-title", id: titleId }, titleOf(kpi)),
      value: el("p", { class: "tile-value", "data-role": "value" }),
      detail: el("p", { class: "tile-detail" }),
      rag: el("p", { class: "rag", hidden: true }),
      spark: el("div", { class: "spark" }),
      commentary: el("p", { class: "commentary", hidden: true }),
    };
    tile.root.append(tile.title, tile.value, tile.detail, tile.rag, tile.spark, tile.commentary);
    if (def) tile.root.append(el("details", {}, el("summary", {}, "Definition"), el("p", {}, def.definition)));
    list.append(tile.root);
    state.tiles.set(kpi, tile);
    return tile;
  }

  function renderTiles(values, previous, commentary) {
    for (const v of values) {
      if (isFamily(v.kpi)) continue;
      const tile = ensureTile(v.kpi);
      const text = formatValue(v.kpi, v);
      const old = previous.get(v.kpi);
      tile.root.dataset.value = v.value === null ? "" : String(v.value);
      tile.root.dataset.suppressed = String(v.suppressed);
      tile.value.textContent = text;
      tile.value.classList.toggle("is-suppressed", v.suppressed);
      tile.value.classList.toggle("is-empty", !v.suppressed && v.value === null);
      tile.detail.textContent = formatDetail(v.kpi, v);
      tile.root.classList.remove("rag-green", "rag-amber", "rag-red");
      tile.rag.className = "rag";
      if (v.rag) {
        tile.root.classList.add(`rag-${v.rag}`);
        tile.rag.classList.add(`rag-badge-${v.rag}`);
        tile.rag.textContent = RAG_TEXT[v.rag] || v.rag;
        tile.rag.hidden = false;
      } else {
        tile.rag.hidden = true;
      }
      const note = commentary[v.kpi];
      tile.commentary.hidden = !note;
      tile.commentary.textContent = note ? `Manager's commentary: ${note}` : "";
      if (old && (old.value !== v.value || old.suppressed !== v.suppressed)) flash(tile.root);
      drawSparkline(v.kpi);
    }
  }

  function flash(node) {
    node.classList.add("changed");
    setTimeout(() => node.classList.remove("changed"), 2000);
  }

  // ------------------------------------------------------------------ trend lines

  function seriesParams(asked) {
    const p = asked.period;
    const base = { service_area: asked.service_area, team: asked.team, category: asked.category };
    if (isYear(p)) return { ...base, from: `${p}-Q1`, to: `${p}-Q4` }; // a financial year: its quarters
    return { ...base, to: p }; // a quarter or a month: it and the seven before (quarters or months)
  }

  async function loadSeries(asked, key) {
    const kpis = [...state.tiles.keys()];
    const params = seriesParams(asked);
    const fresh = new Map();
    let next = 0;
    const worker = async () => {
      while (next < kpis.length) {
        const kpi = kpis[next++];
        const body = await api(`/v1/kpis/${encodeURIComponent(kpi)}/series`, params);
        fresh.set(kpi, body.series);
      }
    };
    await Promise.all(Array.from({ length: SERIES_CONCURRENCY }, worker));
    if (!sameFilters(asked)) return;
    state.series = fresh;
    state.seriesKey = key;
    state.seriesAt = Date.now();
    for (const kpi of kpis) drawSparkline(kpi);
  }

  /** The trend line of a tile; its last point is the selected period, kept equal to the tile. */
  function drawSparkline(kpi) {
    const tile = state.tiles.get(kpi);
    const raw = state.series.get(kpi);
    if (!tile || !raw || !raw.length) return;
    const current = state.values.get(kpi);
    const points = raw.map((p) =>
      p.period === state.filters.period && current ? { ...p, value: current.value, suppressed: current.suppressed } : p,
    );
    const W = 220;
    const H = 44;
    const pad = 5;
    const numbers = points.filter((p) => !p.suppressed && p.value !== null).map((p) => Number(p.value));
    const isRate = unitOf(kpi) === "rate" && kpi !== DAYS_KPI;
    const top = isRate ? 1 : Math.max(1, ...numbers);
    const x = (i) => pad + (points.length === 1 ? 0 : (i * (W - 2 * pad)) / (points.length - 1));
    const y = (v) => H - pad - (Number(v) / top) * (H - 2 * pad);
    const titleId = uid("spark-t");
    const descId = uid("spark-d");
    const chart = svg("svg", {
      class: "sparkline",
      viewBox: `0 0 ${W} ${H}`,
      role: "img",
      "aria-labelledby": `${titleId} ${descId}`,
    });
    const first = periodName(points[0].period);
    const last = periodName(points[points.length - 1].period);
    chart.append(
      svg("title", { id: titleId }, `Trend of ${titleOf(kpi)}, ${first} to ${last}`),
      svg(
        "desc",
        { id: descId },
        points.map((p) => `${periodName(p.period)}: ${formatValue(kpi, p)}`).join("; "),
      ),
      svg("line", { class: "spark-gap", x1: pad, x2: W - pad, y1: H - pad, y2: H - pad }),
    );
    let run = [];
    const flush = () => {
      if (run.length > 1) chart.append(svg("polyline", { class: "spark-line", points: run.join(" ") }));
      run = [];
    };
    points.forEach((p, i) => {
      if (p.suppressed || p.value === null) {
        flush();
        return;
      }
      run.push(`${x(i).toFixed(1)},${y(p.value).toFixed(1)}`);
    });
    flush();
    points.forEach((p, i) => {
      if (p.suppressed || p.value === null) return;
      const lastPoint = i === points.length - 1;
      chart.append(
        svg("circle", { class: lastPoint ? "spark-last" : "spark-point", cx: x(i), cy: y(p.value), r: lastPoint ? 3.5 : 2 }),
      );
    });
    tile.spark.replaceChildren(chart);
  }

  // ------------------------------------------------------------------ charts

  /** A chart slot: the SVG, a legend, and a table alternative whose <details> keeps its state. */
  function chartSlot(containerId) {
    let slot = state.charts.get(containerId);
    if (slot) return slot;
    const container = $(containerId);
    slot = {
      figure: el("div", { class: "figure" }),
      legend: el("div", {}),
      table: el("div", {}),
      details: null,
    };
    slot.details = el("details", {}, el("summary", {}, "Show the data as a table"), slot.table);
    container.append(slot.figure, slot.legend, slot.details);
    state.charts.set(containerId, slot);
    return slot;
  }

  /**
   * Horizontal bars. rows: [{label, segments: [{value, cls, name}], text, suppressed, selected}].
   * max: the value of a full bar. reference: optional {value, label} drawn as a dashed line.
   */
  function barChart({ title, desc, rows, max, reference, empty }) {
    const W = 680;
    const labelW = 230;
    const valueW = 150;
    const barW = W - labelW - valueW;
    const rowH = 30;
    const barH = 20;
    const top = 6;
    const bottom = reference ? 22 : 6;
    const H = top + Math.max(rows.length, 1) * rowH + bottom;
    const titleId = uid("chart-t");
    const descId = uid("chart-d");
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${titleId} ${descId}` });
    chart.append(svg("title", { id: titleId }, title), svg("desc", { id: descId }, desc));
    if (!rows.length) {
      chart.append(svg("text", { class: "chart-muted", x: 0, y: top + 18 }, empty));
      return chart;
    }
    const scale = (v) => (max > 0 ? (Number(v) / max) * barW : 0);
    if (reference) {
      // drawn first, so that bars and their figures lie over it
      const rx = labelW + scale(reference.value);
      const y2 = top + rows.length * rowH - 4;
      chart.append(svg("line", { class: "reference", x1: rx, x2: rx, y1: top - 2, y2 }));
      chart.append(svg("text", { class: "chart-muted", x: rx, y: y2 + 14, "text-anchor": "middle" }, reference.label));
    }
    rows.forEach((row, i) => {
      const y = top + i * rowH;
      // A long label (a question's wording) is cut to fit; the description and the table have it whole.
      const full = row.short || row.label;
      const label = full.length > 28 ? `${full.slice(0, 27)}\u2026` : full;
      chart.append(svg("text", { class: "chart-label", x: labelW - 8, y: y + barH / 2 + 5, "text-anchor": "end" }, label));
      let x = labelW;
      if (row.suppressed) {
        chart.append(svg("rect", { class: "bar-suppressed", x, y, width: 36, height: barH }));
        chart.append(svg("text", { class: "chart-muted", x: x + 44, y: y + barH / 2 + 5 }, "suppressed"));
        return;
      }
      for (const seg of row.segments) {
        const w = scale(seg.value);
        if (w <= 0) continue;
        const rect = svg("rect", { class: `${seg.cls}${row.selected ? " bar-selected" : ""}`, x, y, width: Math.max(w, 1.5), height: barH });
        chart.append(rect);
        if (seg.inside && w >= 44) {
          chart.append(svg("text", { class: "segment-label", x: x + w / 2, y: y + barH / 2 + 5, "text-anchor": "middle" }, seg.inside));
        }
        x += w;
      }
      chart.append(svg("text", { class: "chart-value", x: x + 6, y: y + barH / 2 + 5 }, row.text));
    });
    chart.append(svg("line", { class: "axis", x1: labelW, x2: labelW, y1: top - 2, y2: top + rows.length * rowH - 6 }));
    return chart;
  }

  function dataTable(caption, headers, rows) {
    const table = el("table", {}, el("caption", { class: "visually-hidden" }, caption));
    table.append(el("thead", {}, el("tr", {}, ...headers.map((h, i) => el("th", { scope: "col", class: i ? "num" : null }, h)))));
    table.append(
      el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c, i) => (i ? el("td", { class: "num" }, c) : el("th", { scope: "row" }, c)))))),
    );
    return table;
  }

  function legend(items) {
    return el("ul", { class: "legend" }, ...items.map(([cls, name]) => el("li", {}, el("span", { class: `swatch ${cls}`, "aria-hidden": "true" }), name)));
  }

  function put(containerId, chart, legendNode, table) {
    const slot = chartSlot(containerId);
    slot.figure.replaceChildren(chart);
    slot.legend.replaceChildren(...(legendNode ? [legendNode] : []));
    slot.table.replaceChildren(table);
  }

  const valueText = (kpi, v) => (v.suppressed ? "suppressed" : formatValue(kpi, v));

  function countRows(items) {
    // items: [{label, value, suppressed, selected}] -> bars, largest first, suppressed last
    items.sort((a, b) => (a.suppressed - b.suppressed) || (b.value ?? 0) - (a.value ?? 0) || a.label.localeCompare(b.label));
    const max = Math.max(1, ...items.filter((i) => !i.suppressed).map((i) => Number(i.value)));
    const rows = items.map((i) => ({
      label: i.label,
      suppressed: i.suppressed,
      selected: i.selected,
      text: i.suppressed ? "suppressed" : count(i.value),
      segments: [{ value: i.value, cls: "bar-primary" }],
    }));
    return { rows, max };
  }

  /** Complaints by category from the breakdowns: published, with secondary suppression. */
  function renderCategories(byCategory) {
    const items = byCategory.map((c) => ({ label: humanize(c.category), value: c.value, suppressed: c.suppressed }));
    const { rows, max } = countRows(items);
    const desc = rows.length ? rows.map((r) => `${r.label}: ${r.text}`).join("; ") : "No complaints received";
    put(
      "chart-category",
      barChart({ title: `Complaints received by category, ${sliceName()}`, desc, rows, max, empty: "No complaints received in this period." }),
      null,
      dataTable("Complaints received by category", ["Category", "Complaints received"], rows.map((r) => [r.label, r.text])),
    );
  }

  function renderTeams(byTeam) {
    const items = (byTeam || []).map((t) => ({
      label: t.team,
      value: t.value,
      suppressed: t.suppressed,
      selected: t.team === state.filters.team,
    }));
    const { rows, max } = countRows(items);
    const area =
      (state.filters.service_area ? ` in ${areaName(state.filters.service_area)}` : "") +
      (state.filters.category ? `, complaints about ${humanize(state.filters.category).toLowerCase()}` : "");
    const desc = rows.length ? rows.map((r) => `${r.label}: ${r.text}`).join("; ") : "No complaints received";
    const selected = state.filters.team ? ` The selected team, ${state.filters.team}, is outlined.` : "";
    put(
      "chart-team",
      barChart({ title: `Complaints received by team${area}, ${periodName(state.filters.period)}`, desc: `${desc}.${selected}`, rows, max, empty: "No complaints received in this period." }),
      null,
      dataTable("Complaints received by team", ["Team", "Complaints received"], rows.map((r) => [r.label, r.text])),
    );
  }

  function renderGrades() {
    const completed = state.values.get("audit.completed");
    const grades = [
      ["audit.good_or_better_rate", "Outstanding or good", "bar-good", "swatch-good"],
      ["audit.requires_improvement_rate", "Requires improvement", "bar-ri", "swatch-ri"],
      ["audit.inadequate_rate", "Inadequate", "bar-inadequate", "swatch-inadequate"],
    ];
    const vs = grades.map(([kpi]) => state.values.get(kpi) || { suppressed: true });
    const suppressed = (completed && completed.suppressed) || vs.some((v) => v.suppressed);
    const none = !suppressed && (!completed || !completed.value);
    const parts = grades.map(([kpi, name], i) => {
      const v = vs[i];
      const n = v.numerator !== null && v.numerator !== undefined ? ` (${count(v.numerator)})` : "";
      return { name, text: v.suppressed ? "suppressed" : v.value === null ? "no data" : `${pct(v.value)}${n}`, v, kpi };
    });
    const total = completed ? valueText("audit.completed", completed) : "no data";
    const rows = none
      ? []
      : [
          {
            label: `Audits completed: ${total}`,
            suppressed,
            text: "",
            segments: grades.map(([, , cls], i) => ({ value: vs[i].value || 0, cls, inside: vs[i].value ? pct(vs[i].value) : "" })),
          },
        ];
    const desc = suppressed
      ? "Suppressed: too few audits to show without identifying anyone."
      : none
        ? "No audits completed in this period."
        : `Of ${total} audits: ${parts.map((p) => `${p.name} ${p.text}`).join("; ")}.`;
    put(
      "chart-grades",
      barChart({ title: `Overall audit grades (after moderation), ${sliceName()}`, desc, rows, max: 1, empty: "No audits completed in this period." }),
      suppressed || none ? null : legend(grades.map(([, name, , sw], i) => [sw, `${name}: ${parts[i].text}`])),
      dataTable("Overall audit grades", ["Grade", "Share of audits (audits)"], parts.map((p) => [p.name, p.text])),
    );
  }

  /** Each audit area's good-or-better rate (the auditor's area grades), lowest first: the
   * areas at the top are the ones that most often make an audit require improvement. */
  function renderAuditAreas(values) {
    const rows = values
      .filter((v) => v.kpi.startsWith(AREA_GOOD))
      .map((v) => ({
        label: humanize(v.kpi.slice(AREA_GOOD.length)),
        value: v.value,
        suppressed: v.suppressed,
        text: v.suppressed ? "suppressed" : v.value === null ? "not graded" : `${pct(v.value)} (${count(v.numerator)} of ${count(v.denominator)})`,
        segments: [{ value: v.value || 0, cls: "bar-good" }],
      }))
      .sort((a, b) => (a.suppressed || a.value === null) - (b.suppressed || b.value === null) || (a.value || 0) - (b.value || 0) || a.label.localeCompare(b.label));
    const desc = rows.length
      ? `Lowest first: ${rows.map((r) => `${r.label}: ${r.text}`).join("; ")}. The overall grade is the worst area grade, so the areas at the top drive "requires improvement".`
      : "No audits graded.";
    put(
      "chart-audit-areas",
      barChart({ title: `Audit areas graded good or better, ${sliceName()}`, desc, rows, max: 1, empty: "No audits completed in this period." }),
      rows.length ? legend([["swatch-good", "Audits whose grade for the area is good or outstanding, of those that graded it"]]) : null,
      dataTable("Audit areas graded good or better", ["Area", "Good or better"], rows.map((r) => [r.label, r.text])),
    );
  }

  /** A question by its wording (with its id) where reporting knows it, else by its id. */
  const questionName = (id, wording) => (wording[id] ? `${wording[id]} (${id})` : humanize(id));

  function renderFeedback(values, wording) {
    const rows = values
      .filter((v) => v.kpi.startsWith("feedback.positive_rate."))
      .map((v) => ({
        label: questionName(v.kpi.slice(23), wording),
        short: wording[v.kpi.slice(23)] || humanize(v.kpi.slice(23)), // the chart's label: the words alone
        suppressed: v.suppressed,
        text: v.suppressed ? "suppressed" : v.value === null ? "no answers" : `${pct(v.value)} (${count(v.numerator)} of ${count(v.denominator)})`,
        segments: [{ value: v.value || 0, cls: "bar-primary" }],
      }));
    const desc = rows.length
      ? `${rows.map((r) => `${r.label}: ${r.text}`).join("; ")}. Dashed line: 60%, below which a follow-up opens.`
      : "No survey answers.";
    put(
      "chart-feedback",
      barChart({
        title: `Positive answers by survey question, ${sliceName()}`,
        desc,
        rows,
        max: 1,
        reference: { value: FEEDBACK_REFERENCE, label: "60%" },
        empty: "No survey answers in this period.",
      }),
      rows.length ? legend([["swatch-primary", "Positive answers (yes, 4 or 5) of all answers"]]) : null,
      dataTable("Positive answers by survey question", ["Question", "Positive answers"], rows.map((r) => [r.label, r.text])),
    );
  }

  // What a follow-up is about, as reporting words it (audit type, team, date, case
  // pseudonym); while its origin's event has not arrived, only the kind of origin.
  function followupSubject(f) {
    return f.subject ? f.subject.text : `${humanize(f.origin)} (details not yet received)`;
  }

  function renderStaffSurvey(values) {
    const rows = values
      .filter((v) => v.kpi.startsWith(STAFF_SURVEY))
      .map((v) => ({
        label: humanize(v.kpi.slice(STAFF_SURVEY.length)),
        suppressed: v.suppressed,
        text: v.suppressed ? "suppressed" : v.value === null ? "no answers" : `${pct(v.value)} (${count(v.numerator)} of ${count(v.denominator)})`,
        segments: [{ value: v.value || 0, cls: "bar-primary" }],
      }));
    const desc = rows.length ? `${rows.map((r) => `${r.label}: ${r.text}`).join("; ")}.` : "No staff survey answers.";
    put(
      "chart-staff-survey",
      barChart({ title: `Staff health check: positive answers by question, ${sliceName()}`, desc, rows, max: 1, empty: "No staff survey answers in this period." }),
      rows.length ? legend([["swatch-primary", "Positive answers (yes, 4 or 5) of all answers"]]) : null,
      dataTable("Staff health check: positive answers by question", ["Question", "Positive answers"], rows.map((r) => [r.label, r.text])),
    );
  }

  function renderLeavers(byReason) {
    const items = (byReason || []).map((r) => ({ label: REASON_NAMES[r.reason] || humanize(r.reason), value: r.value, suppressed: r.suppressed }));
    const { rows, max } = countRows(items);
    const desc = rows.length ? rows.map((r) => `${r.label}: ${r.text}`).join("; ") : "No social workers left";
    put(
      "chart-leavers",
      barChart({ title: `Social workers leaving, by reason, ${sliceName()}`, desc, rows, max, empty: "No social workers left in this period." }),
      null,
      dataTable("Social workers leaving, by reason", ["Reason", "Leavers"], rows.map((r) => [r.label, r.text])),
    );
  }

  /** The team KPI choices: every fixed KPI of the catalogue that has a team. */
  function fillTeamKpis() {
    const ids = [...state.catalogue.keys()].filter((k) => !isFamily(k) && !TEAMLESS.includes(k));
    state.teamKpi = fillSelect($("f-team-kpi"), ids.map((k) => [k, titleOf(k)]), state.teamKpi);
  }

  /** One KPI per team of the service area, published with secondary suppression by the API. */
  function renderByTeam(body) {
    const entry = body.kpis[0];
    const kpi = entry.kpi;
    const rate = unitOf(kpi) === "rate" && kpi !== DAYS_KPI && kpi !== CASELOAD_KPI;
    const rows = entry.values.map((v, i) => ({
      label: body.teams[i].team,
      value: v.value,
      suppressed: v.suppressed,
      selected: v.team === state.filters.team,
      text: v.suppressed ? "suppressed" : v.value === null ? "no data" : formatValue(kpi, v),
      detail: formatDetail(kpi, v),
      segments: [{ value: v.value || 0, cls: "bar-primary" }],
    }));
    const max = rate ? 1 : Math.max(1, ...rows.filter((r) => !r.suppressed).map((r) => Number(r.value || 0)));
    const area = state.filters.service_area ? ` in ${areaName(state.filters.service_area)}` : "";
    const desc = rows.length ? rows.map((r) => `${r.label}: ${r.text}`).join("; ") : "No team had activity";
    put(
      "chart-by-team",
      barChart({ title: `${titleOf(kpi)} by team${area}, ${periodName(state.filters.period)}`, desc, rows, max, empty: "No team had activity in this period." }),
      null,
      dataTable(`${titleOf(kpi)} by team`, ["Team", titleOf(kpi), "Of"], rows.map((r) => [r.label, r.text, r.detail])),
    );
  }

  function renderFollowups(body) {
    const items = body.followups.slice();
    const overdue = items.filter((f) => f.status === "overdue").length;
    const asOf = new Date(`${body.as_of}T12:00:00`).toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" });
    const scope = [state.filters.service_area && areaName(state.filters.service_area), state.filters.team && `team ${state.filters.team}`]
      .filter(Boolean)
      .join(", ");
    $("followups-hint").textContent =
      `As they stand on ${asOf}${scope ? ` for ${scope}` : ""}, whatever the period chosen: ` +
      `${count(items.length)} open, ${count(overdue)} of them overdue.`;
    const byOrigin = new Map();
    for (const f of items) {
      const o = byOrigin.get(f.origin) || { open: 0, overdue: 0 };
      if (f.status === "overdue") o.overdue += 1;
      else o.open += 1;
      byOrigin.set(f.origin, o);
    }
    const origins = [...byOrigin.entries()].sort((a, b) => b[1].open + b[1].overdue - (a[1].open + a[1].overdue));
    const max = Math.max(1, ...origins.map(([, o]) => o.open + o.overdue));
    const rows = origins.map(([origin, o]) => ({
      label: `From ${humanize(origin).toLowerCase()}`,
      text: `${count(o.open + o.overdue)} (${count(o.overdue)} overdue)`,
      segments: [
        { value: o.overdue, cls: "bar-overdue", inside: o.overdue ? count(o.overdue) : "" },
        { value: o.open, cls: "bar-primary", inside: o.open ? count(o.open) : "" },
      ],
    }));
    put(
      "chart-followups",
      barChart({
        title: "Open follow-ups by origin",
        desc: rows.length ? rows.map((r) => `${r.label}: ${r.text} open`).join("; ") : "No open follow-ups.",
        rows,
        max,
        empty: "No open follow-ups.",
      }),
      rows.length ? legend([["swatch-overdue", "Overdue"], ["swatch-primary", "Open, not yet due"]]) : null,
      dataTable("Open follow-ups by origin", ["Origin", "Open", "Overdue"], origins.map(([o, c]) => [humanize(o), count(c.open + c.overdue), count(c.overdue)])),
    );
    items.sort((a, b) => b.days_overdue - a.days_overdue || a.due_date.localeCompare(b.due_date));
    const shown = items.slice(0, FOLLOWUP_ROWS);
    const table = el(
      "table",
      { "data-role": "followups" },
      el("caption", { class: "visually-hidden" }, "Open follow-ups, most overdue first"),
      el("thead", {}, el("tr", {}, ...["Status", "Follow-up", "About", "Team", "Service area", "Opened", "Due"].map((h) => el("th", { scope: "col" }, h)))),
      el(
        "tbody",
        {},
        ...shown.map((f) =>
          el(
            "tr",
            {},
            el("td", { class: f.status === "overdue" ? "status-overdue" : null }, f.status === "overdue" ? `Overdue by ${f.days_overdue} day${f.days_overdue === 1 ? "" : "s"}` : "Open"),
            el("th", { scope: "row" }, RULE_NAMES[f.rule] || humanize(f.rule)),
            el("td", { "data-role": "followup-subject" }, followupSubject(f)),
            el("td", {}, f.team ? f.team : "—"),
            el("td", {}, f.service_area ? areaName(f.service_area) : "—"),
            el("td", {}, f.opened_on),
            el("td", {}, f.due_date),
          ),
        ),
      ),
    );
    const more = items.length > shown.length ? el("p", { class: "hint" }, `Showing the ${shown.length} most overdue of ${count(items.length)}.`) : null;
    $("followups-table").replaceChildren(...(items.length ? [table] : [el("p", {}, "No open follow-ups.")]), ...(more ? [more] : []));
  }

  // ------------------------------------------------------------------ downloads

  const isQuarter = (p) => /^\d{4}-\d{2}-Q[1-4]$/.test(p || "");

  /** Fetch a file with the bearer token and hand it to the browser as a download. */
  async function downloadFile(path, params, fallbackName) {
    const session = state.session;
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) query.set(k, v);
    try {
      const response = await fetch(`${path}?${query}`, { headers: { Authorization: `Bearer ${state.token}` } });
      if (session !== state.session) return;
      if (response.status === 401) throw new AuthError(await reason(response));
      if (response.status === 403) throw new RoleError(await reason(response));
      if (!response.ok) throw new Error(`${response.status} ${await reason(response)}`);
      const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
      const url = URL.createObjectURL(await response.blob());
      const link = el("a", { href: url, download: named ? named[1] : fallbackName, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      announce(`Downloaded ${named ? named[1] : fallbackName}.`);
    } catch (e) {
      if (e instanceof AuthError || e instanceof RoleError) handleError(e);
      else setError(`The download failed (${e.message}).`);
    }
  }

  function downloadButton(label, describedBy, onClick) {
    const button = el("button", { type: "button", class: "button button-secondary button-small", "aria-describedby": describedBy }, label);
    button.addEventListener("click", onClick);
    return button;
  }

  /** The CSV and XLSX buttons of each panel's table, and the two workbooks. */
  function wireDownloads() {
    for (const box of document.querySelectorAll(".downloads[data-table]")) {
      const table = box.dataset.table;
      const labelId = uid("dl");
      const params = () => ({ period: state.filters.period, ...filterParams() });
      box.append(
        el("span", { class: "downloads-label", id: labelId }, `${box.dataset.title}:`),
        downloadButton("Download CSV", labelId, () => downloadFile(`/v1/dashboard/tables/${table}.csv`, params(), `${table}.csv`)),
        downloadButton("Download XLSX", labelId, () => downloadFile(`/v1/dashboard/tables/${table}.xlsx`, params(), `${table}.xlsx`)),
      );
    }
    const dashboard = document.querySelector('.downloads[data-workbook="dashboard"]');
    dashboard.append(
      downloadButton("Every dashboard table (XLSX, a sheet each)", null, () =>
        downloadFile("/v1/dashboard/tables.xlsx", { period: state.filters.period, ...filterParams() }, "dashboard.xlsx"),
      ),
    );
    const report = document.querySelector('.downloads[data-workbook="report"]');
    const reportButton = downloadButton("The quarterly report's tables (XLSX, a sheet each)", null, () =>
      downloadFile("/v1/reports/quarterly/tables.xlsx", { period: state.filters.period }, "report-tables.xlsx"),
    );
    report.append(reportButton, el("span", { class: "hint", "data-role": "report-hint" }));
  }

  /** The report's tables are per financial quarter (and for the whole authority). */
  function updateDownloads() {
    const report = document.querySelector('.downloads[data-workbook="report"]');
    const quarter = isQuarter(state.filters.period);
    report.querySelector("button").disabled = !quarter;
    report.querySelector('[data-role="report-hint"]').textContent = quarter
      ? "Whole authority, as the quarterly report shows it."
      : "Choose a quarter: the quarterly report is for a financial quarter.";
  }

  // ------------------------------------------------------------------ boot

  function init() {
    wireSignin();
    wireFilters();
    wireDownloads();
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) {
      state.token = token;
      start().catch((e) => (e instanceof AuthError || e instanceof RoleError ? signOut("Your session has ended. Sign in again.") : handleError(e)));
    } else {
      showSignin();
    }
  }

  init();
})();
