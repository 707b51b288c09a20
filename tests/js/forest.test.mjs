import assert from "node:assert/strict";
import { test } from "node:test";

import { columnsFor } from "../../src/pgwarden/web/js/logic/columns.js";
import { flattenForest } from "../../src/pgwarden/web/js/logic/forest.js";
import { LIVE_TABS } from "../../src/pgwarden/web/js/logic/live-tabs.js";
import { buildModel } from "../../src/pgwarden/web/js/logic/model.js";
import { defaultPrefs } from "../../src/pgwarden/web/js/logic/prefs.js";
import { hotRow, twoPrepared } from "./fixtures.mjs";

const NOW = Date.parse("2026-12-01T20:00:05Z");
const blockingTab = LIVE_TABS.find((tab) => tab.id === "blocking");
const treeText = (row) => columnsFor("blocking", false).find((c) => c.id === "pid").text(row);

function blockingRows(snapshot, prefs = defaultPrefs()) {
  const model = buildModel(snapshot, NOW);
  return blockingTab.grid.rows(model, prefs, blockingTab.grid.columns(false));
}

test("a hot row with 200 waiters: the holder is the one root, 200 waiting, each waiter once", () => {
  const shown = blockingRows(hotRow(200));
  assert.equal(shown.rows.length, 201);
  assert.equal(shown.total, 1);
  const [root, ...waiters] = shown.rows;
  assert.equal(root.pid, 1000);
  assert.equal(root.isRoot, true);
  assert.equal(root.blocks, 200);
  assert.equal(root.cycle, false);
  assert.equal(root.lock, "ExclusiveLock on public.stock");
  assert.equal(root.blockingFor, 100); // its longest-waiting waiter
  const told = hotRow(2);
  told.tree[0].blocking_for = 321.5;
  assert.equal(blockingRows(told).rows[0].blockingFor, 321.5); // the agent's figure wins
  assert.equal(columnsFor("blocking", false).find((c) => c.id === "pid").numeric, false); // indents show
  assert.equal(new Set(waiters.map((row) => row.pid)).size, 200);
  assert.ok(waiters.every((row) => row.depth === 1 && !row.isRoot && treeText(row).startsWith("└ ")));
  assert.equal(shown.summary, "1 of 1 blocking tree shown · 200 blockers, 200 waiting");
});

test("each node's row is made once: the work is linear in the forest's size", () => {
  // A chain 20000 deep and a fan of 20000: no path walked twice, no recursion to overflow.
  const chain = { id: 1, pid: 1, waiting_behind: 19999, children: [] };
  let tip = chain;
  for (let pid = 2; pid <= 20000; pid += 1) {
    const next = { id: pid, pid, waiting_behind: 20000 - pid, children: [] };
    tip.children.push(next);
    tip = next;
  }
  const fan = { id: 100000, pid: 100000, waiting_behind: 20000, children: [] };
  for (let pid = 100001; pid <= 120000; pid += 1) fan.children.push({ id: pid, pid, waiting_behind: 0, children: [] });
  let made = 0;
  const rowOf = (node) => {
    made += 1;
    return { key: String(node.id), pid: node.pid, id: node.id, blocks: node.waiting_behind };
  };
  const byBlocks = (a, b) => b.blocks - a.blocks || a.pid - b.pid;
  const forest = flattenForest([chain, fan], rowOf, byBlocks, () => true);
  assert.equal(made, 40001);
  assert.equal(forest.rows.length, 40001);
  assert.equal(forest.rows[0].pid, 100000); // 20000 waiting beats 19999
  assert.equal(forest.rows[20001].pid, 1);
  assert.equal(forest.rows.at(-1).pid, 20000);
  assert.equal(forest.rows.at(-1).depth, 19999);
});

test("two prepared transactions (pid 0 both) stay two roots, keyed apart, no cycle mark", () => {
  const shown = blockingRows(twoPrepared());
  assert.deepEqual(
    shown.rows.map((row) => [row.key, row.depth]),
    [["0:first", 0], ["11", 1], ["0:second", 0], ["12", 1]],
  );
  assert.ok(shown.rows.every((row) => !row.cycle && !treeText(row).includes("⟳")));
  assert.equal(treeText(shown.rows[0]), "0:first");
  assert.equal(shown.rows[0].query, "PREPARE TRANSACTION 'first'");
  assert.equal(shown.rows[2].query, "PREPARE TRANSACTION 'second'");
});

test("a prepared transaction's row is found by its gid when the row carries no id", () => {
  const snapshot = twoPrepared();
  for (const row of snapshot.blocking.rows) delete row.id;
  const shown = blockingRows(snapshot);
  assert.equal(shown.rows[0].query, "PREPARE TRANSACTION 'first'");
  assert.equal(shown.rows[2].query, "PREPARE TRANSACTION 'second'");
});

test("a cycle the agent cut is shown once, its root marked", () => {
  const snapshot = hotRow(0);
  snapshot.running.rows.push(...[21, 22].map((pid) => ({ ...snapshot.running.rows[0], pid, state: "active" })));
  snapshot.tree = [{ id: 21, pid: 21, cycle: true, waits_for: 22, waiting_behind: 2, children: [{ id: 22, pid: 22, waiting_behind: 2, children: [] }] }];
  const shown = blockingRows(snapshot);
  assert.deepEqual(shown.rows.map((row) => row.pid), [21, 22]);
  assert.equal(treeText(shown.rows[0]), "21 ⟳");
  assert.equal(treeText(shown.rows[1]), "└ 22");
});

test("a node sent twice is shown once and never followed again", () => {
  const again = { id: 2, pid: 2, waiting_behind: 1, children: [] };
  const root = { id: 1, pid: 1, waiting_behind: 2, children: [again] };
  again.children.push(root); // a loop: must not hang
  const forest = flattenForest([root, again], (node) => ({ key: String(node.id), pid: node.pid, id: node.id }), (a, b) => a.pid - b.pid, () => true);
  assert.deepEqual(forest.rows.map((row) => row.pid), [1, 2]);
  assert.equal(forest.rows[1].cycle, true);
  assert.equal(forest.roots, 1);
});

test("the text filter keeps whole trees: a matching waiter keeps its root", () => {
  const snapshot = hotRow(3);
  snapshot.running.rows[2].application_name = "needle-app";
  const prefs = { ...defaultPrefs(), filter: "NEEDLE" };
  const shown = blockingRows(snapshot, prefs);
  assert.equal(shown.rows.length, 4);
  assert.equal(shown.rows[0].pid, 1000);
  const none = blockingRows(snapshot, { ...defaultPrefs(), filter: "nothing like it" });
  assert.equal(none.rows.length, 0);
  assert.equal(none.total, 1);
  assert.equal(none.summary, "0 of 1 blocking tree shown · 3 blockers, 3 waiting");
});
