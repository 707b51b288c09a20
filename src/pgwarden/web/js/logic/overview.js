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

// `overview`: {server: {version, started_at, uptime}, connections: {total, by_state,
// max_connections, superuser_reserved_connections, reserved_connections, available},
// transactions: {commits_per_s, rollbacks_per_s}, cache_hit_ratio, oldest_xact: {id, pid,
// state, age}, host: {load_average, cpu_count, cpu_pct, memory_pct}}; any part may be null.
export function overviewItems(overview) {
  if (!overview) return [];
  const items = [];
  const server = overview.server || {};
  // "15.18 (Debian 15.18-0+deb12u1)": the number in the strip, the whole text on hover.
  const version = text(server.version);
  items.push({
    id: "server",
    label: `PostgreSQL ${version.split(" ")[0]}`.trim(),
    value: isNumber(server.uptime) ? `up ${humanDuration(server.uptime)}` : "",
    title: [version && `PostgreSQL ${version}`, server.started_at && `started ${server.started_at}`].filter(Boolean).join("; "),
    level: "",
  });
  const conn = overview.connections || {};
  const reserved = (conn.superuser_reserved_connections || 0) + (conn.reserved_connections || 0);
  const max = conn.max_connections;
  items.push({
    id: "connections",
    label: "connections",
    value: `${text(conn.total ?? "–")} / ${text(max ?? "–")}${reserved ? ` (${reserved} reserved)` : ""}`,
    title: [byState(conn.by_state), isNumber(conn.available) ? `${conn.available} slots left for ordinary users` : ""].filter(Boolean).join("; "),
    level: connectionLevel(conn.total, isNumber(max) ? max - reserved : null),
  });
  const xact = overview.transactions || {};
  const commits = xact.commits_per_s;
  const rollbacks = xact.rollbacks_per_s;
  const tps = isNumber(commits) && isNumber(rollbacks) ? commits + rollbacks : null;
  items.push({
    id: "tps",
    label: "tps",
    value: `${fixed(tps, 1)} · rollbacks ${fixed(rollbacks, 1)}/s`,
    title: "transactions (commits and rollbacks) per second, every database",
    level: isNumber(tps) && tps > 0 && rollbacks / tps > 0.1 ? "warn" : "",
  });
  const hit = overview.cache_hit_ratio;
  items.push({
    id: "cache",
    label: "cache hit",
    value: isNumber(hit) ? percent(hit * 100) : "–",
    title: "blocks found in shared buffers, of all blocks read, since the statistics were reset",
    level: isNumber(hit) && hit < 0.9 ? "warn" : "",
  });
  const oldest = overview.oldest_xact;
  const age = oldest && isNumber(oldest.age) ? oldest.age : null;
  items.push({
    id: "oldest",
    label: "oldest xact",
    value: age === null ? "none" : `${humanDuration(age)} (${oldest.pid === 0 ? `prepared ${String(oldest.id).slice(2)}` : `pid ${oldest.pid}`})`,
    title: oldest && oldest.state ? `the transaction that began first; ${oldest.state}` : "the transaction that began first",
    level: age === null ? "" : age >= 3600 ? "hot" : age >= 300 ? "warn" : "",
  });
  const host = overview.host || {};
  const load = Array.isArray(host.load_average) ? host.load_average : [];
  const cores = isNumber(host.cpu_count) ? host.cpu_count : null;
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
    title: "the host's CPU use over the last interval, and its memory in use",
    level: (isNumber(host.cpu_pct) && host.cpu_pct >= 90) || (isNumber(host.memory_pct) && host.memory_pct >= 90) ? "warn" : "",
  });
  return items;
}
