import assert from "node:assert/strict";
import { test } from "node:test";

import { allTabs, registerTab, tabById, tabOrDefault } from "../../src/pgwarden/web/js/tabs.js";

test("the registry orders tabs and refuses a second one of the same id", () => {
  registerTab({ id: "later", label: "Later", order: 50, panel: { mount() {}, show() {}, hide() {} } });
  registerTab({ id: "first", label: "First", order: 10, grid: { columns: () => [], rows: () => ({ rows: [], total: 0, summary: "" }) } });
  assert.deepEqual(allTabs().map((tab) => tab.id), ["first", "later"]);
  assert.equal(tabById("later").label, "Later");
  assert.equal(tabOrDefault("gone").id, "first");
  assert.throws(() => registerTab({ id: "first", label: "Again", grid: {} }), /registered twice/);
  assert.throws(() => registerTab({ id: "Bad Id", label: "x", grid: {} }), /needs an id/);
  assert.throws(() => registerTab({ id: "both", label: "x", grid: {}, panel: {} }), /one of grid or panel/);
});
