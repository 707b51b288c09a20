// pgwarden's live activity page: plain ES modules over the agent's own API, no build step.
// This module wires the DOM; the logic it calls lives in logic/ and has no DOM of its own.

import { api, currentSession, SESSION_KEY, Unreachable } from "./api.js";
import { copyQuery, openConfirm, showQuery, showResults } from "./dom/dialogs.js";
import { Grid } from "./dom/grid.js";
import { renderOverview } from "./dom/overview.js";
import { bannerText } from "./history/model.js";
import { createHistoryPanel } from "./history/panel.js";
import { Feed, isDue } from "./logic/feed.js";
import { STATE_LABELS, STATES } from "./logic/filters.js";
import { clock, humanDuration } from "./logic/format.js";
import { LIVE_TABS } from "./logic/live-tabs.js";
import { actionItem, buildModel } from "./logic/model.js";
import { nextSort, parsePrefs, PREFS_KEY } from "./logic/prefs.js";
import { allTabs, registerTab, tabOrDefault } from "./tabs.js";

const MAX_PIDS_PER_CALL = 1000; // the API's limit per kill or cancel
const OUTCOME_MS = 10000; // after an action, keep refreshing this long even under the pointer

const $ = (id) => document.getElementById(id);

for (const tab of LIVE_TABS) registerTab(tab);
const historyPanel = createHistoryPanel();
registerTab({ id: "history", label: "History", order: 40, panel: historyPanel });

const prefs = parsePrefs(localStorage.getItem(PREFS_KEY));
const savePrefs = () => localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));

const view = {
  profile: null,
  model: null,
  selected: new Set(),
  hovering: false,
  paused: false,
  lastShown: -Infinity, // when the snapshot shown last arrived (-Infinity: show the next at once)
  delivery: null, // the latest snapshot not shown yet
  lastUpdated: null,
  failing: false,
  pending: null, // the action waiting for confirmation
  showOutcomeUntil: 0, // refresh under the pointer until then
  panels: new Map(), // panel tabs' <section>s, mounted on first use
  history: null, // {at, window, snapshot} while the live tabs show a recorded moment
};

const grid = new Grid({
  table: $("grid"),
  cols: $("grid-cols"),
  head: $("grid-head"),
  body: $("grid-body"),
  scroller: $("scroller"),
  selected: view.selected,
});

const isAdmin = () => Boolean(view.profile && view.profile.role === "admin");
// No action on a recorded moment: its pids may be gone, or another session's now.
const canAct = () => isAdmin() && view.history === null;
const currentTab = () => tabOrDefault(prefs.tab);

function pauseReason() {
  if (view.history) return "showing history";
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

// ------------------------------------------------------------------ where snapshots come from

const feed = new Feed({
  openStream: () => new EventSource(`/activity/stream?session=${encodeURIComponent(currentSession() || "")}`),
  poll: () => api("/activity/snapshot"),
  // Two intervals without an event: the page's own, or the agent's ([sampler] interval) as
  // seen between its events, whichever is longer.
  silenceMs: (gapMs) => 2 * Math.max(1000 * prefs.interval, gapMs ?? 0),
  pollMs: () => 1000 * prefs.interval,
  onDelivery: (delivery) => {
    view.delivery = delivery;
    renderIfDue(true);
  },
  onError: showFailure,
  now: () => performance.now(),
  timers: { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (t) => clearTimeout(t) },
});

// `onArrival`: called as the snapshot arrives, not later from the timer (after a pause).
function renderIfDue(onArrival = false) {
  if (!view.profile || !view.delivery || pauseReason()) return;
  if (!isDue(view.delivery.arrived, view.lastShown, prefs.interval * 1000)) return;
  const delivery = view.delivery;
  view.delivery = null;
  view.lastShown = delivery.arrived;
  let snapshot;
  try {
    snapshot = delivery.read();
  } catch (error) {
    return showFailure(error);
  }
  view.model = buildModel(snapshot, Date.now());
  view.lastUpdated = new Date();
  setBanner(null);
  renderOverview($("overview"), view.model.overview);
  rebuild();
  $("scroller").setAttribute("aria-busy", "false");
  updateStatus();
  // The latest figures only, for the browser's profiler and bench/web_page.py: from the
  // snapshot's arrival to the table updated (parsing included), and to the next frame.
  if (!onArrival) return;
  const began = delivery.arrived;
  const detail = { via: delivery.via, rows: grid.rows.length };
  performance.clearMeasures();
  performance.measure("pgwarden:render", { start: began, detail });
  requestAnimationFrame(() => setTimeout(() => performance.measure("pgwarden:painted", { start: began, detail }), 0));
}

function showFailure(error) {
  if (error.status === 401) return expired();
  const retry = view.lastUpdated
    ? ` Showing the data of ${clock(view.lastUpdated)}; retrying every ${prefs.interval} s.`
    : ` Retrying every ${prefs.interval} s.`;
  if (!view.model) $("shown").textContent = "no data yet";
  const said = (error.message || "").replace(/\.?$/, ".");
  if (error instanceof Unreachable) {
    setBanner(`The agent cannot be reached (${error.message}).${retry}`);
  } else if (error.status === 503) {
    setBanner(`${said}${retry}`);
  } else if (error.status) {
    setBanner(`The agent answered ${error.status}: ${said}${retry}`);
  } else {
    setBanner(`The agent sent what the page cannot read (${error.message}).${retry}`);
  }
  updateStatus();
}

function setBanner(message) {
  view.failing = message !== null;
  $("banner").hidden = message === null;
  $("banner").textContent = message || "";
  $("scroller").classList.toggle("stale", view.failing);
}

function tick() {
  updateStatus();
  renderIfDue();
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

// ------------------------------------------------------------------ login and session

function showLogin(message) {
  feed.stop();
  sessionStorage.removeItem(SESSION_KEY);
  view.profile = null;
  view.model = null;
  view.delivery = null;
  view.history = null;
  $("history-banner").hidden = true;
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
  feed.stop();
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
  grid.headerKey = "";
  view.model = null;
  view.delivery = null;
  view.lastUpdated = null;
  view.lastShown = -Infinity;
  $("scroller").setAttribute("aria-busy", "true"); // until the first snapshot is shown
  showTab(currentTab().id);
  feed.start();
}

// ------------------------------------------------------------------ tabs

// The tab bar, from the registry: one button per tab, a count beside the live ones.
function buildTabBar() {
  const bar = $("tabs");
  for (const tab of allTabs()) {
    const button = document.createElement("button");
    button.type = "button";
    button.setAttribute("role", "tab");
    button.className = "tab";
    button.id = `tab-${tab.id}`;
    button.dataset.tab = tab.id;
    button.append(tab.label);
    if (tab.counted) {
      const count = document.createElement("span");
      count.className = "count";
      count.id = `count-${tab.id}`;
      count.textContent = "–";
      button.append(" ", count);
    }
    button.addEventListener("click", () => showTab(tab.id));
    bar.append(button);
  }
}

// The live tabs show a recorded moment (a pick on the History chart) until back to live.
function showHistory(picked) {
  view.history = picked;
  view.selected.clear();
  const recorded = picked.snapshot;
  view.model = buildModel(recorded, Date.parse(recorded.sampled_at)); // with the agent's forest
  renderOverview($("overview"), view.model.overview); // the recorded one, if any: not the live strip
  $("history-banner-text").textContent = bannerText(picked.snapshot.sampled_at, new Date(), picked.span);
  $("history-banner").hidden = false;
  rebuild();
  updateStatus();
}

function backToLive() {
  if (!view.history) return;
  view.history = null;
  $("history-banner").hidden = true;
  historyPanel.forget();
  view.lastShown = -Infinity; // show the next snapshot at once
  feed.refreshNow(); // the latest snapshot now, not at the next tick
  rebuild();
  updateStatus();
}

// What a panel tab may use of the page.
const panelContext = {
  api,
  admin: isAdmin,
  expired,
  model: () => view.model,
  showHistory,
  live: backToLive,
};

function showTab(id) {
  const tab = tabOrDefault(id);
  const before = currentTab();
  prefs.tab = tab.id;
  savePrefs();
  view.selected.clear();
  for (const other of allTabs()) {
    const button = $(`tab-${other.id}`);
    button.setAttribute("aria-selected", String(other.id === tab.id));
    button.classList.toggle("active", other.id === tab.id);
  }
  if (before && before.panel && before.id !== tab.id && view.panels.has(before.id)) {
    view.panels.get(before.id).hidden = true;
    before.panel.hide();
  }
  const live = Boolean(tab.grid);
  $("live-view").hidden = !live;
  if (tab.panel) {
    let section = view.panels.get(tab.id);
    if (!section) {
      section = document.createElement("section");
      section.id = `panel-${tab.id}`;
      section.className = "panel";
      $("panels").append(section);
      view.panels.set(tab.id, section);
      tab.panel.mount(section, panelContext);
    }
    section.hidden = false;
    tab.panel.show();
  } else {
    $("states").hidden = !tab.grid.states;
    $("scroller").scrollTop = 0;
  }
  rebuild();
}

function updateCounts(model) {
  for (const tab of allTabs()) {
    if (!tab.counted) continue;
    const count = $(`count-${tab.id}`);
    const value = String(model.counts[tab.id]);
    if (count.textContent !== value) count.textContent = value;
    count.classList.toggle("hot", Boolean(tab.hot) && model.counts[tab.id] > 0);
  }
}

// Filter and sort the current tab's rows and hand them to the table.
function rebuild() {
  if (!view.profile) return;
  const tab = currentTab();
  const model = view.model;
  if (model) updateCounts(model);
  if (!tab.grid) return;
  const columns = tab.grid.columns(canAct());
  const sort = prefs.sort[tab.id];
  grid.setColumns(`${tab.id}:${canAct()}`, columns, sort);
  let rows = [];
  let total = 0;
  if (model) {
    const shown = tab.grid.rows(model, prefs, columns);
    rows = shown.rows;
    total = shown.total;
    $("shown").textContent = shown.summary;
    // Forget selected pids that are gone from this tab.
    const present = new Set(rows.map((row) => row.pid));
    for (const pid of [...view.selected]) if (!present.has(pid)) view.selected.delete(pid);
  } else {
    $("shown").textContent = "loading…";
  }
  const empty = $("empty");
  empty.hidden = !model || rows.length > 0;
  empty.textContent = total === 0 ? tab.grid.empty : "No row matches the filters.";
  grid.setRows(rows);
  updateSelection();
}

let paintQueued = false;
function schedulePaint() {
  if (paintQueued) return;
  paintQueued = true;
  requestAnimationFrame(() => {
    paintQueued = false;
    grid.paint();
  });
}

// ------------------------------------------------------------------ selection and actions

function updateSelection() {
  const n = view.selected.size;
  $("actions").hidden = !canAct() || n === 0;
  $("selected-count").textContent = `${n} selected`;
  const all = $("select-all");
  if (all) {
    const shown = new Set(grid.rows.map((row) => row.pid));
    all.checked = shown.size > 0 && [...shown].every((pid) => view.selected.has(pid));
    all.indeterminate = n > 0 && !all.checked;
  }
}

function toggle(pid, on) {
  if (on) view.selected.add(pid);
  else view.selected.delete(pid);
  updateSelection();
  grid.paint();
  updateStatus();
}

function rowFor(pid) {
  return (view.model && view.model.byPid.get(pid)) || grid.rows.find((row) => row.pid === pid) || { pid };
}

function confirmAction(action, pids) {
  if (!canAct() || pids.length === 0) return;
  view.pending = { action, pids, items: pids.map((pid) => actionItem(rowFor(pid))) };
  openConfirm(action, pids, rowFor);
  updateStatus();
}

async function perform() {
  const pending = view.pending;
  view.pending = null;
  $("confirm").close();
  if (!pending) return;
  const { action, pids, items } = pending;
  const path = action === "terminate" ? "/activity/kill" : "/activity/cancel";
  const verb = action === "terminate" ? "terminated" : "cancelled";
  const lines = [];
  for (let i = 0; i < items.length; i += MAX_PIDS_PER_CALL) {
    const chunk = items.slice(i, i + MAX_PIDS_PER_CALL);
    try {
      const answer = await api(path, { method: "POST", body: { pids: chunk } });
      for (const b of answer.backends) {
        const done = action === "terminate" ? b.killed : b.cancelled;
        lines.push({ pid: b.pid, ok: done, text: done ? verb : `not ${verb}: ${b.reason || "no reason given"}` });
      }
    } catch (error) {
      if (error.status === 401) return expired();
      for (const item of chunk) lines.push({ pid: item.pid ?? item, ok: false, text: `not ${verb}: ${error.message}` });
    }
  }
  showResults(lines);
  for (const pid of pids) view.selected.delete(pid);
  view.showOutcomeUntil = performance.now() + OUTCOME_MS;
  updateSelection();
  view.lastShown = -Infinity;
  feed.refreshNow();
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
  buildTabBar();
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", logout);
  $("history-live").addEventListener("click", backToLive);
  $("pause").addEventListener("click", () => {
    view.paused = !view.paused;
    updateStatus();
    renderIfDue();
  });
  const interval = $("interval");
  interval.value = String(prefs.interval);
  interval.addEventListener("change", () => {
    prefs.interval = Number(interval.value);
    savePrefs();
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
      for (const row of grid.rows) {
        if (on) view.selected.add(row.pid);
        else view.selected.delete(row.pid);
      }
      updateSelection();
      grid.paint();
      return;
    }
    const column = grid.columns.find((c) => c.id === th.dataset.col);
    if (!column || column.select || column.act) return;
    const tab = currentTab();
    prefs.sort[tab.id] = nextSort(prefs.sort[tab.id], column);
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
      const row = grid.rowOf(tr);
      if (row) {
        showQuery(row);
        updateStatus();
      }
    }
  });

  $("cancel-selected").addEventListener("click", () => confirmAction("cancel", [...view.selected]));
  $("terminate-selected").addEventListener("click", () => confirmAction("terminate", [...view.selected]));
  $("clear-selection").addEventListener("click", () => {
    view.selected.clear();
    updateSelection();
    grid.paint();
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
if (currentSession()) start();
else showLogin("");
