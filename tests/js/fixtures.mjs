// Snapshots shaped as GET /activity/snapshot answers them (API.md, "One snapshot, pushed").

export function activityRow(pid, extra = {}) {
  return {
    pid,
    database: "shop",
    user: "app",
    client: "10.0.0.7",
    cpu: 1.5,
    memory: 0.4,
    read_s: "0.00B",
    write_s: "12.50K",
    iow: "N",
    wait: "N",
    duration: "3.250",
    state: "active",
    query: `SELECT ${pid}`,
    application_name: "api",
    backend_type: "client backend",
    wait_event_type: null,
    wait_event: null,
    xact_start: "2026-12-01T20:00:00+00:00",
    query_start: "2026-12-01T20:00:01+00:00",
    blocked_by: [],
    ...extra,
  };
}

export function lockRow(pid, extra = {}) {
  return {
    pid,
    database: "shop",
    user: "app",
    cpu: 0,
    memory: 0.2,
    read_s: "0.00B",
    write_s: "0.00B",
    iow: "N",
    relation: "public.stock",
    type: "transactionid",
    mode: "ShareLock",
    state: "active",
    duration: 4.2,
    query: `UPDATE stock SET n = n - 1 WHERE id = 1 -- ${pid}`,
    blocked_by: [],
    wait_duration: 4.1,
    ...extra,
  };
}

// One session holds a row lock, `n` sessions update the same row: PostgreSQL reports queue
// order (waiter k blocked by the holder and every waiter ahead), the agent's forest puts them
// all under the holder.
export function hotRow(n, holder = 1000) {
  const waiters = Array.from({ length: n }, (_, i) => holder + 1 + i);
  const running = [
    activityRow(holder, { state: "idle in transaction", query: "UPDATE stock SET n = n - 1 WHERE id = 1" }),
    ...waiters.map((pid, i) => activityRow(pid, { wait: "Y", wait_event_type: "Lock", wait_event: "transactionid", blocked_by: [holder, ...waiters.slice(0, i)] })),
  ];
  return {
    taken_at: "2026-12-01T20:00:05+00:00",
    running: { rows: running, total: running.length },
    waiting: { rows: waiters.map((pid, i) => lockRow(pid, { blocked_by: [holder, ...waiters.slice(0, i)], wait_duration: 100 - i / 10 })), total: n },
    blocking: {
      rows: [lockRow(holder, { mode: "ExclusiveLock", state: "idle in transaction", wait_duration: null, blocked_pids: waiters, root: true }), ...waiters.slice(0, -1).map((pid) => lockRow(pid, { blocked_pids: waiters.filter((w) => w > pid), root: false }))],
      total: n,
    },
    tree: [{ id: holder, pid: holder, waiting_behind: n, children: waiters.map((pid) => ({ id: pid, pid, waiting_behind: 0, children: [] })) }],
  };
}

// Two prepared transactions (pid 0 both), each holding up one backend.
export function twoPrepared() {
  const prepared = (gid) => lockRow(0, { id: `0:${gid}`, user: "app", state: "prepared", query: `PREPARE TRANSACTION '${gid}'`, mode: "RowExclusiveLock", blocked_pids: [], root: true, wait_duration: null });
  return {
    taken_at: "2026-12-01T20:00:05+00:00",
    running: { rows: [activityRow(11, { wait: "Y", blocked_by: [0] }), activityRow(12, { wait: "Y", blocked_by: [0] })], total: 2 },
    waiting: { rows: [lockRow(11, { blocked_by: [0] }), lockRow(12, { blocked_by: [0] })], total: 2 },
    blocking: { rows: [prepared("first"), prepared("second")], total: 2 },
    tree: [
      { id: "0:first", pid: 0, waiting_behind: 1, children: [{ id: 11, pid: 11, waiting_behind: 0, children: [] }] },
      { id: "0:second", pid: 0, waiting_behind: 1, children: [{ id: 12, pid: 12, waiting_behind: 0, children: [] }] },
    ],
  };
}
