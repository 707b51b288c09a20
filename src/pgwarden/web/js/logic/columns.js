// The columns of the live tabs and how rows sort by them. Pure: a column says how to read a
// value and how to write it, the DOM code draws it.

import { humanDuration, humanRate, percent, text } from "./format.js";

const COMMON = [
  { id: "pid", label: "pid", width: 70, numeric: true, value: (r) => r.pid, text: (r) => String(r.pid) },
  { id: "database", label: "database", width: 92, value: (r) => r.database, text: (r) => text(r.database) },
  { id: "user", label: "user", width: 88, value: (r) => r.user, text: (r) => text(r.user) },
  { id: "application", label: "application", width: 116, value: (r) => r.application, text: (r) => text(r.application) },
  { id: "client", label: "client", width: 96, value: (r) => r.client, text: (r) => text(r.client) || "local" },
  { id: "cpu", label: "CPU", width: 58, numeric: true, biggestFirst: true, value: (r) => r.cpu, text: (r) => percent(r.cpu), title: "% of one CPU since the previous reading" },
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
    text: (r) => (r.lockWait === null || r.lockWait === undefined ? "" : r.lockWait > 0 ? humanDuration(r.lockWait) : "yes"),
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
// In the Blocking tab the pid column draws the tree: indentation, a branch, a cycle mark.
const TREE = {
  ...COMMON[0],
  width: 120, // room for the indentation of waiters
  numeric: false, // left-aligned: right-aligned text would hide the indentation
  tree: true,
  text: (r) => `${r.depth > 0 ? "└ " : ""}${r.id}${r.cycle ? " ⟳" : ""}`,
};
const ACT = { id: "act", label: "act on root", width: 160, value: () => null, text: () => "", act: true };
const SELECT = { id: "select", label: "", width: 32, value: () => null, text: () => "", select: true };

const byId = Object.fromEntries(COMMON.map((column) => [column.id, column]));

// Running ends with the query, as wide as the window allows. Waiting and Blocking put what
// matters for a lock first and the process figures last, past a query of fixed width.
export function columnsFor(tab, admin) {
  const col = byId;
  const lead = admin ? [SELECT] : [];
  const process = [col.cpu, col.memory, col.read, col.write, col.iow];
  const who = [col.user, col.database, col.application];
  if (tab === "waiting") {
    return [...lead, col.pid, LOCK, BLOCKED_BY, col.lockWait, col.state, col.duration, ...who, col.client, QUERY_FIXED, ...process];
  }
  if (tab === "blocking") {
    const act = admin ? [ACT] : [];
    return [...lead, TREE, ...act, BLOCKS, BLOCKING_FOR, col.state, col.duration, LOCK, ...who, QUERY_FIXED, col.client, col.lockWait, ...process];
  }
  return [...lead, ...COMMON, QUERY];
}

const isBlank = (value) => value === null || value === undefined || value === "";

// Ties, and blanks (always last), fall back to the row's key: pid, or "0:<gid>".
const byKey = (a, b) => a.pid - b.pid || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

export function comparator(column, descending) {
  return (a, b) => {
    const x = column.value(a);
    const y = column.value(b);
    const xBlank = isBlank(x);
    const yBlank = isBlank(y);
    if (xBlank || yBlank) return xBlank === yBlank ? byKey(a, b) : xBlank ? 1 : -1;
    let order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    if (descending) order = -order;
    return order || byKey(a, b);
  };
}

// The column a tab sorts by, from the saved preference; duration when it names none here.
export function sortColumn(columns, sort) {
  return columns.find((c) => c.id === sort.column) || columns.find((c) => c.id === "duration");
}
