import assert from "node:assert/strict";
import { test } from "node:test";

import { comparator, columnsFor } from "../../src/pgwarden/web/js/logic/columns.js";
import { LIVE_TABS } from "../../src/pgwarden/web/js/logic/live-tabs.js";
import { actionItem, buildModel, idOf } from "../../src/pgwarden/web/js/logic/model.js";
import { defaultPrefs, nextSort, parsePrefs } from "../../src/pgwarden/web/js/logic/prefs.js";
import { activityRow, hotRow } from "./fixtures.mjs";

const NOW = Date.parse("2026-12-01T20:00:05Z");
const tab = (id) => LIVE_TABS.find((t) => t.id === id);
const rowsOf = (id, model, prefs = defaultPrefs()) => tab(id).grid.rows(model, prefs, tab(id).grid.columns(true));

test("ids: a pid, or 0:<gid> for a prepared transaction", () => {
  assert.equal(idOf({ pid: 42 }), 42);
  assert.equal(idOf({ pid: 0, id: "0:tx1" }), "0:tx1");
  assert.equal(idOf({ pid: 0, query: "PREPARE TRANSACTION 'it''s'" }), "0:it's");
});

test("running rows: the seed's keys read as numbers, N/A as no figure", () => {
  const snapshot = hotRow(1);
  snapshot.running.total += 1;
  snapshot.running.rows.push(activityRow(7, { cpu: "N/A", memory: "N/A", read_s: "N/A", write_s: "N/A", cpu_pct: null, memory_pct: null, read_bytes_s: null, write_bytes_s: null }));
  const model = buildModel(snapshot, NOW);
  const unreadable = model.byPid.get(7);
  assert.deepEqual([unreadable.cpu, unreadable.memory, unreadable.read, unreadable.write], [null, null, null, null]);
  const holder = model.byPid.get(1000);
  assert.equal(holder.cpu, 1.5);
  assert.equal(holder.write, 12.5 * 1024);
  assert.equal(holder.xactAge, 5);
  assert.equal(model.byPid.get(1001).lockWait, 100); // waits for a lock, since wait_duration
  assert.deepEqual(model.counts, { running: 3, waiting: 1, blocking: 1 });
});

test("filters: text over pid, user, query...; states hidden by their boxes", () => {
  const snapshot = hotRow(2);
  const model = buildModel(snapshot, NOW);
  assert.equal(rowsOf("running", model).rows.length, 3);
  const hidden = rowsOf("running", model, { ...defaultPrefs(), hiddenStates: ["idle in transaction"] });
  assert.deepEqual(hidden.rows.map((r) => r.pid).sort(), [1001, 1002]);
  assert.equal(hidden.summary, "2 of 3 shown · 1 hidden by filters");
  const byPid = rowsOf("running", model, { ...defaultPrefs(), filter: " 1002 " });
  assert.deepEqual(byPid.rows.map((r) => r.pid), [1002]);
});

test("sorting: by the column, blanks last, ties by pid", () => {
  const lockWait = columnsFor("running", false).find((c) => c.id === "lockWait");
  const rows = [
    { pid: 3, key: "3", lockWait: null },
    { pid: 2, key: "2", lockWait: 5 },
    { pid: 1, key: "1", lockWait: 5 },
    { pid: 4, key: "4", lockWait: 9 },
  ];
  assert.deepEqual([...rows].sort(comparator(lockWait, true)).map((r) => r.pid), [4, 1, 2, 3]);
  assert.deepEqual([...rows].sort(comparator(lockWait, false)).map((r) => r.pid), [1, 2, 4, 3]);
});

test("preferences: saved ones over the defaults, junk dropped", () => {
  assert.deepEqual(parsePrefs("not json"), defaultPrefs());
  assert.deepEqual(parsePrefs(null), defaultPrefs());
  const prefs = parsePrefs(JSON.stringify({ tab: "blocking", interval: 7, filter: 3, sort: { running: { column: "pid", descending: 0 } } }));
  assert.equal(prefs.tab, "blocking");
  assert.equal(prefs.interval, 2); // 7 is not offered
  assert.equal(prefs.filter, "");
  assert.deepEqual(prefs.sort.running, { column: "pid", descending: false });
  assert.deepEqual(prefs.sort.waiting, defaultPrefs().sort.waiting);
  const cpu = { id: "cpu", biggestFirst: true };
  assert.deepEqual(nextSort({ column: "pid", descending: false }, cpu), { column: "cpu", descending: true });
  assert.deepEqual(nextSort({ column: "cpu", descending: true }, cpu), { column: "cpu", descending: false });
});

test("kill and cancel items: the pid with the backend_start /activity showed, or the plain pid", () => {
  const started = "2026-12-01T19:58:01.123456+00:00";
  const snapshot = hotRow(1);
  snapshot.running.rows.push(activityRow(7, { backend_start: started }));
  snapshot.running.total += 1;
  const model = buildModel(snapshot, NOW);
  assert.deepEqual(actionItem(model.byPid.get(7)), { pid: 7, backend_start: started });
  assert.equal(actionItem({ pid: 8, backendStart: null }), 8); // a prepared transaction, say
});
