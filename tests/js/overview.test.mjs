import assert from "node:assert/strict";
import { test } from "node:test";

import { overviewItems } from "../../src/pgwarden/web/js/logic/overview.js";

const OVERVIEW = {
  server: { version: "17.2 (Debian 17.2-1)", version_num: 170002, started_at: "2026-11-28T16:00:00+00:00", uptime: 3 * 86400 + 4 * 3600 },
  connections: {
    total: 482,
    by_state: { idle: 270, active: 210, "idle in transaction": 2 },
    max_connections: 500,
    superuser_reserved_connections: 3,
    reserved_connections: null,
    available: 15,
  },
  transactions: { commits_per_s: 1234.06, rollbacks_per_s: 0.5, window: 1.0 },
  cache_hit_ratio: 0.9921,
  oldest_xact: { id: 4242, pid: 4242, state: "idle in transaction", xact_start: "2026-12-01T19:58:00+00:00", age: 125 },
  host: { load_average: [3.5, 2.25, 1], cpu_count: 2, cpu_pct: 63.2, memory_pct: 41.06, memory_total: 8e9, memory_available: 4e9 },
};

const byId = (items) => Object.fromEntries(items.map((item) => [item.id, item]));

test("the strip: version and uptime, slots, tps, cache, oldest transaction, host", () => {
  const items = byId(overviewItems(OVERVIEW));
  assert.deepEqual(Object.keys(items), ["server", "connections", "tps", "cache", "oldest", "load", "host"]);
  assert.equal(items.server.label, "PostgreSQL 17.2");
  assert.equal(items.server.title, "PostgreSQL 17.2 (Debian 17.2-1); started 2026-11-28T16:00:00+00:00");
  assert.equal(items.server.value, "up 3d 4h");
  assert.equal(items.connections.value, "482 / 500 (3 reserved)");
  assert.equal(items.connections.title, "210 active · 2 idle in transaction · 270 idle; 15 slots left for ordinary users");
  assert.equal(items.connections.level, "hot"); // 482 of the 497 an ordinary user may take
  assert.equal(items.tps.value, "1234.6 · rollbacks 0.5/s");
  assert.equal(items.cache.value, "99.2%");
  assert.equal(items.cache.level, "");
  assert.equal(items.oldest.value, "2m 05s (pid 4242)");
  assert.equal(items.oldest.level, "");
  assert.equal(items.load.value, "3.50 2.25 1.00");
  assert.equal(items.load.level, "warn"); // more runnable than the 2 CPUs
  assert.equal(items.host.value, "CPU 63.2% · memory 41.1%");
});

test("figures the agent could not read show as a dash, never as a crash", () => {
  const items = byId(overviewItems({ server: null, connections: null, transactions: { commits_per_s: null, rollbacks_per_s: null, window: null }, cache_hit_ratio: null, oldest_xact: null, host: null }));
  assert.equal(items.connections.value, "– / –");
  assert.equal(items.tps.value, "– · rollbacks –/s");
  assert.equal(items.cache.value, "–");
  assert.equal(items.oldest.value, "none");
  assert.equal(items.host.value, "CPU – · memory –");
  assert.deepEqual(overviewItems(null), []);
});

test("thresholds: slots nearly gone, an old transaction, a poor cache", () => {
  const warn = byId(overviewItems({ ...OVERVIEW, connections: { total: 400, max_connections: 500, superuser_reserved_connections: 3 }, oldest_xact: { pid: 1, age: 600 }, cache_hit_ratio: 0.5 }));
  assert.equal(warn.connections.level, "warn");
  assert.equal(warn.oldest.level, "warn");
  assert.equal(warn.cache.level, "warn");
  const hot = byId(overviewItems({ ...OVERVIEW, connections: { total: 10, max_connections: 500, superuser_reserved_connections: 3 }, oldest_xact: { pid: 1, age: 7200 } }));
  assert.equal(hot.connections.level, "");
  assert.equal(hot.oldest.level, "hot");
});

test("the oldest transaction may be a prepared one: named by its gid", () => {
  const items = byId(overviewItems({ ...OVERVIEW, oldest_xact: { id: "0:nightly", pid: 0, state: "prepared", age: 30 } }));
  assert.equal(items.oldest.value, "30s (prepared nightly)");
});
