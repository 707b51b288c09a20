// The overview strip: the server at a glance, from the `overview` object of each snapshot.
// Pure: it returns the items to show, {id, label, value, title, level}; level is "" (fine),
// "warn" or "hot", for the colour.

import { humanDuration, percent, text } from "./format.js";

const isNumber = (value) => typeof value === "number" && Number.isFinite(value);
const fixed = (value, digits) => (isNumber(value) ? value.toFixed(digits) : "–");

// Share of the connection slots an ordinary user may take that are taken.
function connectionLevel(used, usable) {
  if (!isNumber(used) || !isNumber(usable) || usable <= 0) return "";
  const share = used / usable;
  return share >= 0.95 ? "hot" : share >= 0.8 ? "warn" : "";
}

const STATE_ORDER = ["active", "idle in transaction", "idle in transaction (aborted)", "idle", "fastpath function call", "disabled"];

function byState(states) {
  const entries = Object.entries(states || {}).filter(([, n]) => isNumber(n) && n > 0);
  const rank = (state) => (STATE_ORDER.includes(state) ? STATE_ORDER.indexOf(state) : STATE_ORDER.length);
  entries.sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
  return entries.map(([state, n]) => `${n} ${state || "no state"}`).join(" · ");
}

export function overviewItems(overview) {
  if (!overview) return [];
  const items = [];
  const server = overview.server || {};
  items.push({
    id: "server",
    label: text(server.version) || "PostgreSQL",
    value: isNumber(server.uptime) ? `up ${humanDuration(server.uptime)}` : "",
    title: server.started_at ? `started ${server.started_at}` : "",
    level: "",
  });
  const conn = overview.connections || {};
  const reserved = isNumber(conn.reserved) ? conn.reserved : 0;
  const usable = isNumber(conn.max) ? conn.max - reserved : null;
  items.push({
    id: "connections",
    label: "connections",
    value: `${text(conn.total ?? "–")} / ${text(conn.max ?? "–")}${reserved ? ` (${reserved} reserved)` : ""}`,
    title: byState(conn.by_state),
    level: connectionLevel(conn.total, usable),
  });
  const xact = overview.transactions || {};
  items.push({
    id: "tps",
    label: "tps",
    value: `${fixed(xact.per_second, 1)} · rollbacks ${fixed(xact.rollbacks_per_second, 1)}/s`,
    title: "transactions committed and rolled back per second, every database",
    level: isNumber(xact.rollbacks_per_second) && isNumber(xact.per_second) && xact.per_second > 0 && xact.rollbacks_per_second / xact.per_second > 0.1 ? "warn" : "",
  });
  const hit = overview.cache_hit_ratio;
  items.push({
    id: "cache",
    label: "cache hit",
    value: isNumber(hit) ? percent(hit * 100) : "–",
    title: "share of block reads served by shared buffers",
    level: isNumber(hit) && hit < 0.9 ? "warn" : "",
  });
  const oldest = overview.oldest_xact;
  items.push({
    id: "oldest",
    label: "oldest xact",
    value: oldest && isNumber(oldest.age) ? `${humanDuration(oldest.age)} (pid ${oldest.pid})` : "none",
    title: "the longest-open transaction of a client backend",
    level: oldest && isNumber(oldest.age) ? (oldest.age >= 3600 ? "hot" : oldest.age >= 300 ? "warn" : "") : "",
  });
  const host = overview.host || {};
  const load = Array.isArray(host.load) ? host.load : [];
  const cores = isNumber(host.cpus) ? host.cpus : null;
  items.push({
    id: "load",
    label: "load",
    value: load.length ? load.map((n) => fixed(n, 2)).join(" ") : "–",
    title: cores ? `1, 5 and 15 minutes; ${cores} CPUs` : "1, 5 and 15 minutes",
    level: cores && isNumber(load[0]) && load[0] > cores ? "warn" : "",
  });
  items.push({
    id: "host",
    label: "host",
    value: `CPU ${percent(host.cpu_pct)} · memory ${percent(host.memory_pct)}`,
    title: "the host's CPU use over the last interval, and memory in use",
    level: isNumber(host.cpu_pct) && host.cpu_pct >= 90 ? "warn" : isNumber(host.memory_pct) && host.memory_pct >= 90 ? "warn" : "",
  });
  return items;
}
