// pgwarden's live activity page: plain JavaScript over the agent's own API, no build step.
"use strict";

(() => {
  const SESSION_KEY = "pgwarden.session";
  const PREFS_KEY = "pgwarden.prefs";
  const ROW_HEIGHT = 28; // px; style.css gives every body row this height
  const OVERSCAN = 12; // rows rendered above and below the visible ones
  const REQUEST_TIMEOUT_MS = 15000;
  const QUERY_MIN_WIDTH = 320; // px
  const MAX_PIDS_PER_CALL = 1000; // the API's limit per kill or cancel
  const OUTCOME_MS = 10000; // after an action, keep refreshing this long even under the pointer
  const TABS = ["running", "waiting", "blocking"];
  const STATES = [
    "active",
    "idle",
    "idle in transaction",
    "idle in transaction (aborted)",
    "fastpath function call",
    "disabled",
    "",
  ];
  const STATE_LABELS = { "": "no state" };

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ formatting (pure)

  // Compact, so it fits a narrow column: "4.2s", "37s", "1m 26s", "2h 05m", "3d 4h".
  function humanDuration(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
    const s = Math.max(0, seconds);
    if (s < 10) return `${s.toFixed(1)}s`;
    if (s < 60) return `${Math.floor(s)}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
    return `${Math.floor(h / 24)}d ${h % 24}h`;
  }

  function humanRate(bytes) {
    if (bytes === null) return "–";
    if (bytes === 0) return "0";
    const units = ["B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
  }

  const plural = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;
  const percent = (value) => (value === null || value === undefined ? "–" : `${value.toFixed(1)}%`);
  const clock = (date) => date.toLocaleTimeString([], { hour12: false });

  function since(timestamp, now) {
    if (!timestamp) return null;
    const started = Date.parse(timestamp);
    return Number.isNaN(started) ? null : Math.max(0, (now - started) / 1000);
  }

  // ------------------------------------------------------------------ preferences

  const defaults = {
    tab: "running",
    filter: "",
    hiddenStates: [],
    interval: 2,
    sort: {
      running: { column: "duration", descending: true },
      waiting: { column: "lockWait", descending: true },
      blocking: { column: "blocks", descending: true },
    },
  };

  function loadPrefs() {
    try {
      const saved = JSON.parse(localStorage.getItem(PREFS_KEY) || "{}");
      return { ...defaults, ...saved, sort: { ...defaults.sort, ...(saved.sort || {}) } };
    } catch {
      return { ...defaults };
    }
  }

  const prefs = loadPrefs();
  if (!TABS.includes(prefs.tab)) prefs.tab = "running";
  const savePrefs = () => localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));

  // ------------------------------------------------------------------ the API

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  class Unreachable extends Error {}

  async function api(path, { method = "GET", body, session = sessionStorage.getItem(SESSION_KEY) } = {}) {
    const headers = {};
    if (session) headers["X-Session"] = session;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: abort.signal,
        cache: "no-store",
      });
    } catch (error) {
      throw new Unreachable(abort.signal.aborted ? "no answer in time" : error.message);
    } finally {
      clearTimeout(timer);
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    if (!response.ok) {
      const message = payload && payload.error ? payload.error : `HTTP ${response.status}`;
      throw new ApiError(response.status, message);
    }
    return payload;
  }

  // ------------------------------------------------------------------ rows

  // One shape for the rows of every tab, built once per refresh.
  function fromActivity(row, now) {
    return {
      pid: row.pid,
      database: row.database,
      user: row.user,
      application: row.application_name,
      client: row.client,
      cpu: row.cpu_pct,
      memory: row.memory_pct,
      read: row.read_bytes_s,
      write: row.write_bytes_s,
      iow: row.iow === "Y",
      lockWait: row.wait === "Y" ? 0 : null,
      state: row.state,
      duration: parseFloat(row.duration),
      query: row.query,
      xactAge: since(row.xact_start, now),
      queryStart: row.query_start,
      xactStart: row.xact_start,
      waitEvent: row.wait_event_type ? `${row.wait_event_type}: ${row.wait_event || ""}` : null,
      blockedBy: row.blocked_by || [],
    };
  }

  // A lock row for a pid the activity view did not list (it started or ended in between).
  function fromLockRow(row) {
    return {
      pid: row.pid,
      database: row.database,
      user: row.user,
      application: row.application_name,
      client: null,
      cpu: row.cpu_pct,
      memory: row.memory_pct,
      read: row.read_bytes_s,
      write: row.write_bytes_s,
      iow: row.iow === "Y",
      lockWait: null,
      state: row.state,
      duration: row.duration,
      query: row.query,
      xactAge: null,
      queryStart: null,
      xactStart: null,
      waitEvent: null,
      blockedBy: row.blocked_by || [],
    };
  }

  function lockText(row) {
    if (!row.mode) return "";
    const target = row.relation && row.relation.trim() ? row.relation : row.type;
    return `${row.mode} on ${target}`;
  }

  function finish(row, key) {
    row.key = key;
    row.haystack = [
      row.pid,
      row.database,
      row.user,
      row.application,
      row.client,
      row.state,
      row.query,
    ]
      .filter((part) => part !== null && part !== undefined)
      .join(" ")
      .toLowerCase();
    return row;
  }

  function buildModel(activity, waiting, blocking) {
    const now = Date.now();
    const byPid = new Map();
    for (const raw of activity.rows) byPid.set(raw.pid, fromActivity(raw, now));
    const waits = new Map(waiting.rows.map((raw) => [raw.pid, raw]));
    for (const [pid, raw] of waits) {
      const row = byPid.get(pid);
      if (row) row.lockWait = raw.wait_duration ?? row.duration;
    }
    const base = (raw) => ({ ...(byPid.get(raw.pid) || fromLockRow(raw)) });

    const running = [...byPid.values()].map((row) => finish(row, String(row.pid)));

    const waitingRows = waiting.rows.map((raw) => {
      const row = base(raw);
      row.lock = lockText(raw);
      row.blockedBy = raw.blocked_by || [];
      row.lockWait = raw.wait_duration ?? row.lockWait;
      return finish(row, String(raw.pid));
    });

    const blockers = new Map(blocking.rows.map((raw) => [raw.pid, raw]));
    const node = (pid) => {
      const raw = blockers.get(pid) || waits.get(pid);
      const row = raw ? base(raw) : { ...(byPid.get(pid) || fromLockRow({ pid })) };
      const asBlocker = blockers.get(pid);
      const asWaiter = waits.get(pid);
      row.lock = lockText(asBlocker || asWaiter || {});
      row.direct = asBlocker ? asBlocker.blocked_pids : [];
      // How long it has blocked: since the first of its waiters began to wait.
      const waited = row.direct.map((p) => (waits.get(p) ? waits.get(p).wait_duration : null));
      row.blockingFor = waited.some((w) => w !== null) ? Math.max(...waited.filter((w) => w !== null)) : null;
      return row;
    };
    return {
      counts: { running: activity.total, waiting: waiting.total, blocking: blocking.total },
      running,
      waiting: waitingRows,
      blocking: { blockers, node },
      byPid,
    };
  }

  // The blocking tree, flattened in display order: root blockers first, their waiters below.
  function blockingTree(tree, compare, keep) {
    const { blockers, node } = tree;
    const build = (pid, path) => {
      const row = node(pid);
      row.children = [];
      row.cycle = path.includes(pid);
      if (!row.cycle) {
        for (const child of row.direct) row.children.push(build(child, [...path, pid]));
      }
      const behind = new Set();
      for (const child of row.children) {
        behind.add(child.pid);
        for (const p of child.behind) behind.add(p);
      }
      behind.delete(pid);
      row.behind = behind;
      row.blocks = behind.size;
      return row;
    };
    const roots = [];
    const reached = new Set();
    const visit = (row) => {
      reached.add(row.pid);
      row.children.forEach(visit);
    };
    for (const [pid, raw] of blockers) {
      if (raw.root) {
        const root = build(pid, []);
        roots.push(root);
        visit(root);
      }
    }
    // Blockers that no root reaches wait on each other (a deadlock about to be broken).
    for (const pid of blockers.keys()) {
      if (!reached.has(pid)) {
        const root = build(pid, []);
        root.deadlock = true;
        roots.push(root);
        visit(root);
      }
    }
    const flat = [];
    const within = (row) => keep(row) || row.children.some(within);
    const emit = (row, depth, key) => {
      row.depth = depth;
      row.isRoot = depth === 0;
      finish(row, key);
      flat.push(row);
      [...row.children].sort(compare).forEach((child) => emit(child, depth + 1, `${key}/${child.pid}`));
    };
    roots.filter(within).sort(compare).forEach((root) => emit(root, 0, String(root.pid)));
    return { rows: flat, roots: roots.length, shownRoots: roots.filter(within).length };
  }

  // ------------------------------------------------------------------ columns

  const text = (value) => (value === null || value === undefined ? "" : String(value));

  const COMMON = [
    { id: "pid", label: "pid", width: 70, numeric: true, value: (r) => r.pid, text: (r) => String(r.pid) },
    { id: "database", label: "database", width: 92, value: (r) => r.database, text: (r) => text(r.database) },
    { id: "user", label: "user", width: 88, value: (r) => r.user, text: (r) => text(r.user) },
    { id: "application", label: "application", width: 116, value: (r) => r.application, text: (r) => text(r.application) },
    { id: "client", label: "client", width: 96, value: (r) => r.client, text: (r) => text(r.client) || "local" },
    { id: "cpu", label: "CPU", width: 58, numeric: true, biggestFirst: true, value: (r) => r.cpu, text: (r) => percent(r.cpu), title: "% of one CPU since the previous reading (over its lifetime on the first)" },
    { id: "memory", label: "memory", width: 80, numeric: true, biggestFirst: true, value: (r) => r.memory, text: (r) => percent(r.memory), title: "resident memory, % of the host's RAM" },
    { id: "read", label: "read/s", width: 84, numeric: true, biggestFirst: true, value: (r) => r.read, text: (r) => humanRate(r.read) },
    { id: "write", label: "write/s", width: 84, numeric: true, biggestFirst: true, value: (r) => r.write, text: (r) => humanRate(r.write) },
    { id: "iow", label: "I/O wait", width: 76, value: (r) => (r.iow ? 1 : 0), text: (r) => (r.iow ? "yes" : ""), title: "the process waits for disk I/O" },
    {
      id: "lockWait",
      label: "lock wait",
      width: 100,
      numeric: true,
      biggestFirst: true,
      value: (r) => r.lockWait,
      text: (r) => (r.lockWait === null ? "" : r.lockWait > 0 ? humanDuration(r.lockWait) : "yes"),
      title: "how long it has waited for a lock",
    },
    { id: "state", label: "state", width: 156, value: (r) => r.state, text: (r) => text(r.state) },
    {
      id: "duration",
      label: "duration",
      width: 96,
      numeric: true,
      biggestFirst: true,
      value: (r) => r.duration,
      text: (r) => humanDuration(r.duration),
      title: "since the query started",
    },
  ];
  const QUERY = { id: "query", label: "query", width: null, value: (r) => r.query, text: (r) => text(r.query), query: true };
  const QUERY_FIXED = { ...QUERY, width: 360 };
  const LOCK = { id: "lock", label: "lock", width: 200, value: (r) => r.lock, text: (r) => r.lock || "" };
  const BLOCKED_BY = {
    id: "blockedBy",
    label: "blocked by",
    width: 96,
    value: (r) => (r.blockedBy.length ? r.blockedBy[0] : null),
    text: (r) => r.blockedBy.join(", "),
  };
  const BLOCKS = {
    id: "blocks",
    label: "waiting",
    width: 90,
    numeric: true,
    biggestFirst: true,
    value: (r) => r.blocks,
    text: (r) => (r.blocks ? String(r.blocks) : ""),
    title: "sessions waiting behind it, directly or not",
  };
  const BLOCKING_FOR = {
    id: "blockingFor",
    label: "blocking for",
    width: 112,
    numeric: true,
    biggestFirst: true,
    value: (r) => r.blockingFor,
    text: (r) => humanDuration(r.blockingFor),
    title: "since the first session it holds up began to wait",
  };
  const ACT = { id: "act", label: "act on root", width: 160, value: () => null, text: () => "", act: true };
  const SELECT = { id: "select", label: "", width: 32, value: () => null, text: () => "", select: true };

  // Running ends with the query, as wide as the window allows. Waiting and Blocking put what
  // matters for a lock first and the process figures last, past a query of fixed width.
  function columnsFor(tab, admin) {
    const col = Object.fromEntries(COMMON.map((column) => [column.id, column]));
    const lead = admin ? [SELECT] : [];
    const process = [col.cpu, col.memory, col.read, col.write, col.iow];
    const who = [col.user, col.database, col.application];
    if (tab === "waiting") {
      return [...lead, col.pid, LOCK, BLOCKED_BY, col.lockWait, col.state, col.duration, ...who, col.client, QUERY_FIXED, ...process];
    }
    if (tab === "blocking") {
      const tree = { ...col.pid, width: 120 }; // room for the indentation of waiters
      const act = admin ? [ACT] : [];
      return [...lead, tree, ...act, BLOCKS, BLOCKING_FOR, col.state, col.duration, LOCK, ...who, QUERY_FIXED, col.client, col.lockWait, ...process];
    }
    return [...lead, ...COMMON, QUERY];
  }

  function comparator(column, descending) {
    return (a, b) => {
      const x = column.value(a);
      const y = column.value(b);
      const xNull = x === null || x === undefined || x === "";
      const yNull = y === null || y === undefined || y === "";
      if (xNull || yNull) return xNull === yNull ? a.pid - b.pid : xNull ? 1 : -1; // nulls last
      let order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      if (descending) order = -order;
      return order || a.pid - b.pid;
    };
  }

  // ------------------------------------------------------------------ page state

  const view = {
    profile: null,
    model: null,
    rows: [],
    columns: [],
    selected: new Set(),
    hovering: false,
    paused: false,
    inFlight: false,
    nextDue: 0,
    lastUpdated: null,
    failing: false,
    pool: [],
    headerKey: "",
    pending: null, // the action waiting for confirmation
    showOutcomeUntil: 0, // refresh under the pointer until then
  };

  const isAdmin = () => view.profile && view.profile.role === "admin";

  function pauseReason() {
    if (view.paused) return "paused";
    if ($("confirm").open || $("query-dialog").open) return "paused while a dialog is open";
    if (view.selected.size) return "paused while rows are selected";
    // Right after an action the pointer rests where the dialog was: show the outcome anyway.
    if (view.hovering && performance.now() > view.showOutcomeUntil) {
      return "paused while the pointer is over the table";
    }
    if (document.hidden) return "paused while the tab is hidden";
    const selection = document.getSelection();
    if (selection && !selection.isCollapsed && $("scroller").contains(selection.anchorNode)) {
      return "paused while text is selected";
    }
    return null;
  }

  // ------------------------------------------------------------------ login and session

  function showLogin(message) {
    sessionStorage.removeItem(SESSION_KEY);
    view.profile = null;
    view.model = null;
    view.selected.clear();
    $("app").hidden = true;
    $("login").hidden = false;
    $("login-message").textContent = message || "";
    $("login-password").value = "";
    $("login-username").focus();
  }

  async function onLogin(event) {
    event.preventDefault();
    const username = $("login-username").value;
    const password = $("login-password").value;
    $("login-submit").disabled = true;
    $("login-message").textContent = "";
    try {
      const answer = await api("/login", { method: "POST", body: { username, password }, session: null });
      sessionStorage.setItem(SESSION_KEY, answer.session);
      await start();
    } catch (error) {
      let message = error.message;
      if (error instanceof Unreachable) message = `Cannot reach the agent: ${error.message}.`;
      else if (error.status === 401) message = "Invalid username or password.";
      $("login-message").textContent = message;
    } finally {
      $("login-submit").disabled = false;
    }
  }

  async function logout() {
    try {
      await api("/logout");
    } catch {
      // The session is dropped here either way.
    }
    showLogin("You are logged out.");
  }

  function expired() {
    showLogin("Your session has expired; please log in again.");
  }

  async function start() {
    try {
      view.profile = await api("/profile");
    } catch (error) {
      if (error.status === 401 || error.status === 406) return expired();
      return showLogin(`Cannot start: ${error.message}`);
    }
    $("login").hidden = true;
    $("app").hidden = false;
    $("who-name").textContent = view.profile.username;
    $("who-role").textContent = view.profile.role === "admin" ? "admin" : "viewer · read only";
    $("who-role").className = `role role-${view.profile.role}`;
    $("actions").hidden = true;
    view.headerKey = "";
    view.model = null;
    view.lastUpdated = null;
    showTab(prefs.tab);
    refresh();
  }

  // ------------------------------------------------------------------ refresh

  async function refresh() {
    if (view.inFlight || !view.profile) return;
    view.inFlight = true;
    $("scroller").setAttribute("aria-busy", "true");
    const began = performance.now();
    try {
      const [activity, waiting, blocking] = await Promise.all([
        api("/activity"),
        api("/activity/waiting"),
        api("/activity/blocking"),
      ]);
      const fetched = performance.now();
      view.model = buildModel(activity, waiting, blocking);
      view.lastUpdated = new Date();
      setBanner(null);
      rebuild();
      // The latest figures only, for the browser's profiler and bench/web_page.py.
      performance.clearMeasures();
      performance.measure("pgwarden:refresh", { start: began });
      performance.measure("pgwarden:render", { start: fetched });
    } catch (error) {
      if (error.status === 401) return expired();
      const retry = view.lastUpdated
        ? ` Showing the data of ${clock(view.lastUpdated)}; retrying every ${prefs.interval} s.`
        : ` Retrying every ${prefs.interval} s.`;
      if (!view.model) $("shown").textContent = "no data yet";
      if (error instanceof Unreachable) {
        setBanner(`The agent cannot be reached (${error.message}).${retry}`);
      } else if (error.status === 503) {
        setBanner(`${error.message.replace(/\.?$/, ".")}${retry}`);
      } else {
        setBanner(`The agent answered ${error.status}: ${error.message.replace(/\.?$/, ".")}${retry}`);
      }
    } finally {
      view.inFlight = false;
      $("scroller").setAttribute("aria-busy", "false");
      view.nextDue = performance.now() + prefs.interval * 1000;
      updateStatus();
    }
  }

  function setBanner(message) {
    view.failing = message !== null;
    $("banner").hidden = message === null;
    $("banner").textContent = message || "";
    $("scroller").classList.toggle("stale", view.failing);
  }

  function tick() {
    updateStatus();
    if (!view.profile || view.inFlight || performance.now() < view.nextDue || pauseReason()) return;
    refresh();
  }

  function updateStatus() {
    if (!view.profile) return;
    const reason = pauseReason();
    const live = $("live");
    live.textContent = reason ? reason.charAt(0).toUpperCase() + reason.slice(1) : view.failing ? "Offline" : "Live";
    live.className = reason ? "live is-paused" : view.failing ? "live is-offline" : "live";
    $("pause").textContent = view.paused ? "Resume" : "Pause";
    $("pause").setAttribute("aria-pressed", String(view.paused));
    const updated = $("updated");
    if (view.lastUpdated) {
      const ago = Math.round((Date.now() - view.lastUpdated.getTime()) / 1000);
      const age = ago < 60 ? `${ago}s` : humanDuration(ago);
      const label = `${clock(view.lastUpdated)}${ago >= 3 ? ` (${age} ago)` : ""}`;
      if (updated.textContent !== label) updated.textContent = label;
      updated.dateTime = view.lastUpdated.toISOString();
    }
  }

  // ------------------------------------------------------------------ rendering

  function showTab(tab) {
    prefs.tab = tab;
    savePrefs();
    view.selected.clear();
    for (const name of TABS) {
      const button = $(`tab-${name}`);
      button.setAttribute("aria-selected", String(name === tab));
      button.classList.toggle("active", name === tab);
    }
    $("states").hidden = tab === "blocking"; // the blocking view always shows whole trees
    $("scroller").scrollTop = 0;
    rebuild();
  }

  function buildHeader() {
    const key = `${prefs.tab}:${isAdmin()}`;
    view.columns = columnsFor(prefs.tab, isAdmin());
    if (key !== view.headerKey) {
      view.headerKey = key;
      const cols = $("grid-cols");
      const head = $("grid-head");
      cols.replaceChildren();
      head.replaceChildren();
      for (const column of view.columns) {
        const col = document.createElement("col");
        if (column.width) col.style.width = `${column.width}px`;
        cols.append(col);
        const th = document.createElement("th");
        th.dataset.col = column.id;
        if (column.numeric) th.classList.add("num");
        if (column.select) {
          const all = document.createElement("input");
          all.type = "checkbox";
          all.id = "select-all";
          all.title = "Select every row shown";
          all.setAttribute("aria-label", "Select every row shown");
          th.append(all);
        } else {
          th.textContent = column.label;
          if (!column.act) {
            th.classList.add("sortable");
            th.tabIndex = 0;
          }
          if (column.title) th.title = column.title;
        }
        head.append(th);
      }
      // The query takes what is left, never less than QUERY_MIN_WIDTH: wider, the table scrolls.
      const fixed = view.columns.reduce((sum, column) => sum + (column.width || 0), 0);
      const flexible = view.columns.some((column) => !column.width);
      $("grid").style.minWidth = `${fixed + (flexible ? QUERY_MIN_WIDTH : 0)}px`;
      for (const row of view.pool) row.element.remove();
      view.pool = [];
      // Spacers span exactly the columns: extra ones would take width from the query.
      for (const td of $("grid-body").querySelectorAll("tr.spacer td")) td.colSpan = view.columns.length;
    }
    const sort = prefs.sort[prefs.tab];
    for (const th of $("grid-head").children) {
      const sorted = th.dataset.col === sort.column;
      th.setAttribute("aria-sort", sorted ? (sort.descending ? "descending" : "ascending") : "none");
    }
  }

  function keeps(row) {
    const needle = prefs.filter.trim().toLowerCase();
    return !needle || row.haystack.includes(needle);
  }

  function keepsState(row) {
    return !prefs.hiddenStates.includes(row.state || "");
  }

  // Filter and sort the current tab's rows; the DOM is touched only by paint().
  function rebuild() {
    if (!view.profile) return;
    buildHeader();
    const model = view.model;
    const sort = prefs.sort[prefs.tab];
    const column = view.columns.find((c) => c.id === sort.column) || view.columns.find((c) => c.id === "duration");
    const compare = comparator(column, sort.descending);
    let total = 0;
    if (!model) {
      view.rows = [];
    } else if (prefs.tab === "blocking") {
      const tree = blockingTree(model.blocking, compare, keeps);
      view.rows = tree.rows;
      total = tree.roots;
      $("shown").textContent = `${tree.shownRoots} of ${plural(tree.roots, "blocking tree")} shown · ${plural(model.counts.blocking, "blocker")}, ${model.counts.waiting} waiting`;
    } else {
      const all = model[prefs.tab];
      total = all.length;
      view.rows = all.filter((row) => keeps(row) && keepsState(row)).sort(compare);
      const hidden = total - view.rows.length;
      $("shown").textContent = `${view.rows.length} of ${total} shown${hidden ? ` · ${hidden} hidden by filters` : ""}`;
    }
    if (model) {
      for (const tab of TABS) {
        const count = $(`count-${tab}`);
        const value = String(model.counts[tab]);
        if (count.textContent !== value) count.textContent = value;
        count.classList.toggle("hot", tab !== "running" && model.counts[tab] > 0);
      }
      // Forget selected pids that are gone from this tab.
      const present = new Set(view.rows.map((row) => row.pid));
      for (const pid of [...view.selected]) if (!present.has(pid)) view.selected.delete(pid);
    } else {
      $("shown").textContent = "loading…";
    }
    const empty = $("empty");
    empty.hidden = !model || view.rows.length > 0;
    empty.textContent =
      total === 0
        ? { running: "No client backend.", waiting: "No session waits for a lock.", blocking: "No session blocks another." }[prefs.tab]
        : "No row matches the filters.";
    updateSelection();
    paint();
  }

  function makeRow() {
    const element = document.createElement("tr");
    const cells = view.columns.map((column) => {
      const td = document.createElement("td");
      td.dataset.col = column.id;
      if (column.numeric) td.classList.add("num");
      if (column.select) {
        const box = document.createElement("input");
        box.type = "checkbox";
        box.className = "select";
        box.setAttribute("aria-label", "Select this backend");
        td.append(box);
      } else if (column.act) {
        for (const [action, label] of [["cancel", "Cancel"], ["terminate", "Terminate"]]) {
          const button = document.createElement("button");
          button.type = "button";
          button.dataset.action = action;
          button.className = action === "terminate" ? "small danger" : "small";
          button.textContent = label;
          td.append(button);
        }
      } else if (column.query) {
        td.classList.add("query");
        td.title = "Click for the full query";
      }
      return { td, column, text: null };
    });
    element.append(...cells.map((cell) => cell.td));
    return { element, cells, key: null };
  }

  // Bind one pooled <tr> to a row, touching only what changed.
  function bind(slot, row) {
    const element = slot.element;
    slot.key = row.key;
    if (element.dataset.pid !== String(row.pid)) element.dataset.pid = String(row.pid);
    const stateClass = row.state === "idle in transaction" ? "idle-xact" : row.state === "idle in transaction (aborted)" ? "idle-xact aborted" : "";
    const className = [stateClass, row.isRoot ? "root" : "", row.depth > 0 ? "child" : "", view.selected.has(row.pid) ? "selected" : ""]
      .filter(Boolean)
      .join(" ");
    if (element.className !== className) element.className = className;
    for (const cell of slot.cells) {
      const { td, column } = cell;
      if (column.select) {
        const box = td.firstChild;
        box.checked = view.selected.has(row.pid);
        continue;
      }
      if (column.act) {
        td.classList.toggle("has-actions", Boolean(row.isRoot));
        continue;
      }
      let value = column.text(row);
      if (column.id === "pid" && prefs.tab === "blocking") {
        value = `${row.depth > 0 ? "└ " : ""}${row.pid}${row.deadlock ? " ⟳" : ""}`;
        td.style.paddingLeft = `${8 + row.depth * 18}px`;
      }
      if (cell.text !== value) {
        cell.text = value;
        td.textContent = value;
        if (!column.numeric && !column.query) td.title = value; // the whole text, when cut short
      }
      if (column.id === "duration") {
        const title = row.xactStart ? `transaction open for ${humanDuration(row.xactAge)}; query started ${row.queryStart}` : "";
        if (td.title !== title) td.title = title;
      } else if (column.id === "state") {
        const title = row.waitEvent ? `waits for ${row.waitEvent}` : "";
        if (td.title !== title) td.title = title;
      }
    }
  }

  // Virtual scrolling: only the visible rows (and a margin) exist in the DOM.
  function paint() {
    const body = $("grid-body");
    const scroller = $("scroller");
    const count = view.rows.length;
    const viewport = Math.max(scroller.clientHeight, ROW_HEIGHT * 10);
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(count, Math.ceil((scroller.scrollTop + viewport) / ROW_HEIGHT) + OVERSCAN);
    const wanted = Math.max(0, last - first);
    let top = body.querySelector("tr.spacer-top");
    let bottom = body.querySelector("tr.spacer-bottom");
    if (!top) {
      top = spacer("spacer-top");
      bottom = spacer("spacer-bottom");
      body.replaceChildren(top, bottom);
    }
    while (view.pool.length < wanted) {
      const slot = makeRow();
      view.pool.push(slot);
      bottom.before(slot.element);
    }
    while (view.pool.length > wanted) view.pool.pop().element.remove();
    for (let i = 0; i < wanted; i += 1) bind(view.pool[i], view.rows[first + i]);
    top.firstChild.style.height = `${first * ROW_HEIGHT}px`;
    bottom.firstChild.style.height = `${(count - last) * ROW_HEIGHT}px`;
  }

  let paintQueued = false;
  function schedulePaint() {
    if (paintQueued) return;
    paintQueued = true;
    requestAnimationFrame(() => {
      paintQueued = false;
      paint();
    });
  }

  function spacer(className) {
    const tr = document.createElement("tr");
    tr.className = `spacer ${className}`;
    tr.setAttribute("aria-hidden", "true");
    const td = document.createElement("td");
    td.colSpan = view.columns.length;
    tr.append(td);
    return tr;
  }

  // ------------------------------------------------------------------ selection and actions

  function updateSelection() {
    const admin = isAdmin();
    const n = view.selected.size;
    $("actions").hidden = !admin || n === 0;
    $("selected-count").textContent = `${n} selected`;
    const all = $("select-all");
    if (all) {
      const shown = new Set(view.rows.map((row) => row.pid));
      all.checked = shown.size > 0 && [...shown].every((pid) => view.selected.has(pid));
      all.indeterminate = n > 0 && !all.checked;
    }
  }

  function toggle(pid, on) {
    if (on) view.selected.add(pid);
    else view.selected.delete(pid);
    updateSelection();
    paint();
    updateStatus();
  }

  function rowFor(pid) {
    return (view.model && view.model.byPid.get(pid)) || view.rows.find((row) => row.pid === pid) || { pid };
  }

  function confirmAction(action, pids) {
    if (!isAdmin() || pids.length === 0) return;
    view.pending = { action, pids };
    const n = pids.length;
    const noun = n === 1 ? "backend" : "backends";
    $("confirm-title").textContent =
      action === "terminate" ? `Terminate ${n} ${noun}?` : `Cancel the running query of ${n} ${noun}?`;
    $("confirm-text").textContent =
      action === "terminate"
        ? "Their connections end and their open transactions roll back."
        : "Their current queries stop with an error; the sessions stay connected.";
    const list = $("confirm-list");
    list.replaceChildren();
    for (const pid of pids) {
      const row = rowFor(pid);
      const tr = document.createElement("tr");
      tr.dataset.pid = String(pid);
      for (const value of [pid, row.user, row.database, row.state, row.query]) {
        const td = document.createElement("td");
        td.textContent = text(value);
        tr.append(td);
      }
      tr.lastChild.className = "confirm-query";
      list.append(tr);
    }
    $("confirm-yes").textContent = action === "terminate" ? `Terminate ${n} ${noun}` : `Cancel ${n} ${n === 1 ? "query" : "queries"}`;
    $("confirm").showModal();
    updateStatus();
    $("confirm-no").focus();
  }

  async function perform() {
    const pending = view.pending;
    view.pending = null;
    $("confirm").close();
    if (!pending) return;
    const { action, pids } = pending;
    const path = action === "terminate" ? "/activity/kill" : "/activity/cancel";
    const verb = action === "terminate" ? "terminated" : "cancelled";
    const lines = [];
    for (let i = 0; i < pids.length; i += MAX_PIDS_PER_CALL) {
      const chunk = pids.slice(i, i + MAX_PIDS_PER_CALL);
      try {
        const answer = await api(path, { method: "POST", body: { pids: chunk } });
        for (const b of answer.backends) {
          const done = action === "terminate" ? b.killed : b.cancelled;
          lines.push({ pid: b.pid, ok: done, text: done ? verb : `not ${verb}: ${b.reason || "no reason given"}` });
        }
      } catch (error) {
        if (error.status === 401) return expired();
        for (const pid of chunk) lines.push({ pid, ok: false, text: `not ${verb}: ${error.message}` });
      }
    }
    showResults(lines);
    for (const pid of pids) view.selected.delete(pid);
    view.showOutcomeUntil = performance.now() + OUTCOME_MS;
    updateSelection();
    view.nextDue = 0;
    refresh();
  }

  function showResults(lines) {
    const list = $("results-list");
    list.replaceChildren();
    for (const line of lines) {
      const li = document.createElement("li");
      li.dataset.pid = String(line.pid);
      li.className = line.ok ? "ok" : "failed";
      li.textContent = `pid ${line.pid}: ${line.text}`;
      list.append(li);
    }
    $("results").hidden = false;
  }

  // ------------------------------------------------------------------ the query dialog

  function showQuery(row) {
    $("query-pid").textContent = String(row.pid);
    const meta = [row.user && `user ${row.user}`, row.database && `database ${row.database}`, row.state, row.duration !== null && `for ${humanDuration(row.duration)}`];
    $("query-meta").textContent = meta.filter(Boolean).join(" · ");
    $("query-text").textContent = row.query || "";
    $("copy-status").textContent = "";
    $("query-dialog").showModal();
    updateStatus();
  }

  async function copyQuery() {
    const value = $("query-text").textContent;
    let copied = false;
    try {
      await navigator.clipboard.writeText(value);
      copied = true;
    } catch {
      // Outside a secure context (plain HTTP, not loopback) the clipboard API is missing.
      const area = document.createElement("textarea");
      area.value = value;
      area.className = "offscreen";
      $("query-dialog").append(area);
      area.select();
      copied = document.execCommand("copy");
      area.remove();
    }
    $("copy-status").textContent = copied ? "Copied." : "Copy failed: select the text and copy it by hand.";
  }

  // ------------------------------------------------------------------ wiring

  function buildStateFilters() {
    const box = $("states");
    for (const state of STATES) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.value = state;
      input.checked = !prefs.hiddenStates.includes(state);
      input.dataset.state = state;
      label.append(input, ` ${STATE_LABELS[state] || state}`);
      box.append(label);
    }
    box.addEventListener("change", (event) => {
      const input = event.target;
      const hidden = new Set(prefs.hiddenStates);
      if (input.checked) hidden.delete(input.value);
      else hidden.add(input.value);
      prefs.hiddenStates = [...hidden];
      savePrefs();
      rebuild();
    });
  }

  function wire() {
    $("login-form").addEventListener("submit", onLogin);
    $("logout").addEventListener("click", logout);
    for (const tab of TABS) $(`tab-${tab}`).addEventListener("click", () => showTab(tab));
    $("pause").addEventListener("click", () => {
      view.paused = !view.paused;
      updateStatus();
    });
    const interval = $("interval");
    interval.value = String(prefs.interval);
    if (interval.value !== String(prefs.interval)) {
      prefs.interval = 2;
      interval.value = "2";
    }
    interval.addEventListener("change", () => {
      prefs.interval = Number(interval.value);
      savePrefs();
      view.nextDue = Math.min(view.nextDue, performance.now() + prefs.interval * 1000);
    });
    const filter = $("filter");
    filter.value = prefs.filter;
    filter.addEventListener("input", () => {
      prefs.filter = filter.value;
      savePrefs();
      rebuild();
    });
    buildStateFilters();

    const scroller = $("scroller");
    scroller.addEventListener("scroll", schedulePaint, { passive: true });
    scroller.addEventListener("mousemove", () => {
      view.hovering = true;
    });
    scroller.addEventListener("mouseleave", () => {
      view.hovering = false;
    });
    window.addEventListener("resize", schedulePaint);

    $("grid-head").addEventListener("keydown", (event) => {
      if ((event.key === "Enter" || event.key === " ") && event.target.matches("th.sortable")) {
        event.preventDefault();
        event.target.click();
      }
    });
    $("grid-head").addEventListener("click", (event) => {
      const th = event.target.closest("th");
      if (!th) return;
      if (event.target.id === "select-all") {
        const on = event.target.checked;
        for (const row of view.rows) {
          if (on) view.selected.add(row.pid);
          else view.selected.delete(row.pid);
        }
        updateSelection();
        paint();
        return;
      }
      const column = view.columns.find((c) => c.id === th.dataset.col);
      if (!column || column.select || column.act) return;
      const sort = prefs.sort[prefs.tab];
      prefs.sort[prefs.tab] = sort.column === column.id ? { column: column.id, descending: !sort.descending } : { column: column.id, descending: Boolean(column.biggestFirst) };
      savePrefs();
      rebuild();
    });

    $("grid-body").addEventListener("click", (event) => {
      const tr = event.target.closest("tr[data-pid]");
      if (!tr) return;
      const pid = Number(tr.dataset.pid);
      if (event.target.classList.contains("select")) return toggle(pid, event.target.checked);
      const action = event.target.dataset.action;
      if (action) return confirmAction(action, [pid]);
      const td = event.target.closest("td");
      if (td && td.dataset.col === "query") {
        const slot = view.pool.find((s) => s.element === tr);
        const row = slot && view.rows.find((r) => r.key === slot.key);
        if (row) showQuery(row);
      }
    });

    $("cancel-selected").addEventListener("click", () => confirmAction("cancel", [...view.selected]));
    $("terminate-selected").addEventListener("click", () => confirmAction("terminate", [...view.selected]));
    $("clear-selection").addEventListener("click", () => {
      view.selected.clear();
      updateSelection();
      paint();
    });
    $("confirm-yes").addEventListener("click", perform);
    $("confirm-no").addEventListener("click", () => $("confirm").close());
    $("confirm").addEventListener("close", () => {
      view.pending = null;
      view.hovering = false;
    });
    $("results-close").addEventListener("click", () => {
      $("results").hidden = true;
    });
    $("copy-query").addEventListener("click", copyQuery);
    $("query-close").addEventListener("click", () => $("query-dialog").close());
    $("query-dialog").addEventListener("close", () => {
      view.hovering = false;
    });

    setInterval(tick, 250);
  }

  wire();
  if (sessionStorage.getItem(SESSION_KEY)) start();
  else showLogin("");
})();
