// What the page remembers between visits (localStorage): the tab, filters, sort, interval.

import { DEFAULT_SORT } from "./live-tabs.js";

export const PREFS_KEY = "pgwarden.prefs";
export const INTERVALS = [1, 2, 5, 10, 30];

export function defaultPrefs() {
  return {
    tab: "running",
    filter: "",
    hiddenStates: [],
    interval: 2,
    sort: structuredClone(DEFAULT_SORT),
  };
}

// Saved preferences over the defaults; anything unreadable or of the wrong kind is dropped.
export function parsePrefs(saved) {
  const prefs = defaultPrefs();
  let parsed;
  try {
    parsed = JSON.parse(saved || "{}");
  } catch {
    return prefs;
  }
  if (!parsed || typeof parsed !== "object") return prefs;
  if (typeof parsed.tab === "string") prefs.tab = parsed.tab;
  if (typeof parsed.filter === "string") prefs.filter = parsed.filter;
  if (Array.isArray(parsed.hiddenStates)) prefs.hiddenStates = parsed.hiddenStates.filter((s) => typeof s === "string");
  if (INTERVALS.includes(parsed.interval)) prefs.interval = parsed.interval;
  if (parsed.sort && typeof parsed.sort === "object") {
    for (const [tab, sort] of Object.entries(parsed.sort)) {
      if (sort && typeof sort.column === "string") prefs.sort[tab] = { column: sort.column, descending: Boolean(sort.descending) };
    }
  }
  return prefs;
}

// A header click: the same column flips its order, another starts biggest first if it says so.
export function nextSort(current, column) {
  if (current && current.column === column.id) return { column: column.id, descending: !current.descending };
  return { column: column.id, descending: Boolean(column.biggestFirst) };
}
