// One snapshot of the API (the three views and the blocking forest) turned into the rows of
// every live tab, in one shape. Pure: no DOM, no clock of its own (`now` is passed in).

import { parseRate, since } from "./format.js";

// A node of the forest, and a lock row, name a session by `id`: its pid, or "0:<gid>" for a
// prepared transaction (several share pid 0). Rows that carry no `id` get one from their pid,
// or for a prepared transaction from the gid in its `PREPARE TRANSACTION '<gid>'` text.
export function idOf(raw) {
  if (raw.id !== undefined && raw.id !== null) return raw.id;
  if (raw.pid !== 0) return raw.pid;
  const match = typeof raw.query === "string" ? /^PREPARE TRANSACTION '((?:[^']|'')*)'$/.exec(raw.query) : null;
  return match ? `0:${match[1].replaceAll("''", "'")}` : "0:";
}

// A Map key and a DOM attribute for an id: pids and "0:<gid>" never collide as strings.
export const keyOf = (id) => String(id);

// The numeric twin where the agent sends one, else the seed's key when it is a number (not "N/A").
function figure(twin, seed) {
  if (twin !== undefined) return twin;
  return typeof seed === "number" ? seed : null;
}

function rate(twin, seed) {
  return twin !== undefined ? twin : parseRate(seed);
}

function fromActivity(row, now) {
  return {
    id: row.pid,
    pid: row.pid,
    database: row.database,
    user: row.user,
    application: row.application_name,
    client: row.client,
    cpu: figure(row.cpu_pct, row.cpu),
    memory: figure(row.memory_pct, row.memory),
    read: rate(row.read_bytes_s, row.read_s),
    write: rate(row.write_bytes_s, row.write_s),
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
    backendStart: row.backend_start ?? null,
  };
}

// What kill and cancel are sent for a row: its pid with its backend_start when known, so the
// agent refuses a backend that started since (a reused pid); else the plain pid.
export function actionItem(row) {
  return row.backendStart ? { pid: row.pid, backend_start: row.backendStart } : row.pid;
}

// A lock row for a session the activity view did not list (a prepared transaction, or a
// backend of another type).
function fromLockRow(row) {
  return {
    id: idOf(row),
    pid: row.pid,
    database: row.database ?? null,
    user: row.user ?? null,
    application: row.application_name ?? null,
    client: null,
    cpu: figure(row.cpu_pct, row.cpu),
    memory: figure(row.memory_pct, row.memory),
    read: rate(row.read_bytes_s, row.read_s),
    write: rate(row.write_bytes_s, row.write_s),
    iow: row.iow === "Y",
    lockWait: null,
    state: row.state ?? null,
    duration: typeof row.duration === "number" ? row.duration : null,
    query: row.query ?? null,
    xactAge: null,
    queryStart: null,
    xactStart: null,
    waitEvent: null,
    blockedBy: row.blocked_by || [],
  };
}

export function lockText(row) {
  if (!row || !row.mode) return "";
  const target = row.relation && row.relation.trim() ? row.relation : row.type;
  return `${row.mode} on ${target}`;
}

// What the text filter searches, lower case, built once per snapshot.
function haystackOf(row) {
  return [row.pid, row.database, row.user, row.application, row.client, row.state, row.query]
    .filter((part) => part !== null && part !== undefined)
    .join(" ")
    .toLowerCase();
}

function finish(row) {
  row.key = keyOf(row.id);
  row.haystack = haystackOf(row);
  return row;
}

const countOf = (view) => (typeof view.total === "number" ? view.total : view.rows.length);

// The figures of the running, waiting and blocking views, and the forest's nodes made rows,
// all from one snapshot: {taken_at, running, waiting, blocking, tree, overview}.
export function buildModel(snapshot, now) {
  const byPid = new Map();
  for (const raw of snapshot.running.rows) byPid.set(raw.pid, fromActivity(raw, now));
  const waits = new Map(snapshot.waiting.rows.map((raw) => [keyOf(idOf(raw)), raw]));
  const blockers = new Map(snapshot.blocking.rows.map((raw) => [keyOf(idOf(raw)), raw]));
  for (const raw of snapshot.waiting.rows) {
    const row = byPid.get(raw.pid);
    if (row) row.lockWait = raw.wait_duration ?? row.duration;
  }
  const base = (raw) => ({ ...(raw.pid !== 0 && byPid.get(raw.pid) ? byPid.get(raw.pid) : fromLockRow(raw)), id: idOf(raw) });

  const running = [...byPid.values()].map(finish);
  const waiting = snapshot.waiting.rows.map((raw) => {
    const row = base(raw);
    row.lock = lockText(raw);
    row.blockedBy = raw.blocked_by || [];
    row.lockWait = raw.wait_duration ?? row.lockWait;
    return finish(row);
  });

  // One row per node of the forest, made when the Blocking tab shows it.
  const nodeRow = (node) => {
    const key = keyOf(node.id);
    const asBlocker = blockers.get(key);
    const asWaiter = waits.get(key);
    const raw = asBlocker || asWaiter;
    const row = raw ? base(raw) : { ...(byPid.get(node.pid) || fromLockRow({ pid: node.pid, id: node.id })) };
    row.id = node.id;
    row.lock = lockText(asBlocker || asWaiter);
    if (asWaiter) row.lockWait = asWaiter.wait_duration ?? row.lockWait;
    row.blocks = node.waiting_behind || 0;
    // How long it has blocked: since the first of the sessions it holds up began to wait.
    let longest = null;
    for (const child of node.children || []) {
      const waiter = waits.get(keyOf(child.id));
      const waited = waiter ? waiter.wait_duration : null;
      if (typeof waited === "number" && (longest === null || waited > longest)) longest = waited;
    }
    row.blockingFor = typeof node.blocking_for === "number" ? node.blocking_for : longest; // the agent's, when sent
    return finish(row);
  };

  return {
    takenAt: snapshot.taken_at ?? null,
    counts: { running: countOf(snapshot.running), waiting: countOf(snapshot.waiting), blocking: countOf(snapshot.blocking) },
    running,
    waiting,
    tree: snapshot.tree || [],
    nodeRow,
    byPid,
    overview: snapshot.overview ?? null,
  };
}
