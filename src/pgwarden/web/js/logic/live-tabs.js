// The three live tabs (Running, Waiting, Blocking): each turns the model of one snapshot into
// the rows the table shows, filtered and sorted. Pure.

import { columnsFor, comparator, sortColumn } from "./columns.js";
import { stateFilter, textFilter } from "./filters.js";
import { plural } from "./format.js";
import { flattenForest } from "./forest.js";

function flatRows(name) {
  return (model, prefs, columns) => {
    const sort = prefs.sort[name];
    const compare = comparator(sortColumn(columns, sort), sort.descending);
    const keepText = textFilter(prefs.filter);
    const keepState = stateFilter(prefs.hiddenStates);
    const all = model[name];
    const rows = all.filter((row) => keepText(row) && keepState(row)).sort(compare);
    const hidden = all.length - rows.length;
    return { rows, total: all.length, summary: `${rows.length} of ${all.length} shown${hidden ? ` · ${hidden} hidden by filters` : ""}` };
  };
}

// The blocking view always shows whole trees: the state filter does not apply.
function forestRows(model, prefs, columns) {
  const sort = prefs.sort.blocking;
  const compare = comparator(sortColumn(columns, sort), sort.descending);
  const forest = flattenForest(model.tree, model.nodeRow, compare, textFilter(prefs.filter));
  const summary = `${forest.shownRoots} of ${plural(forest.roots, "blocking tree")} shown · ${plural(model.counts.blocking, "blocker")}, ${model.counts.waiting} waiting`;
  return { rows: forest.rows, total: forest.roots, summary };
}

export const LIVE_TABS = [
  {
    id: "running",
    label: "Running",
    order: 10,
    counted: true,
    grid: { columns: (admin) => columnsFor("running", admin), rows: flatRows("running"), empty: "No client backend.", states: true },
  },
  {
    id: "waiting",
    label: "Waiting",
    order: 20,
    counted: true,
    hot: true,
    grid: { columns: (admin) => columnsFor("waiting", admin), rows: flatRows("waiting"), empty: "No session waits for a lock.", states: true },
  },
  {
    id: "blocking",
    label: "Blocking",
    order: 30,
    counted: true,
    hot: true,
    grid: { columns: (admin) => columnsFor("blocking", admin), rows: forestRows, empty: "No session blocks another.", states: false },
  },
];

export const DEFAULT_SORT = {
  running: { column: "duration", descending: true },
  waiting: { column: "lockWait", descending: true },
  blocking: { column: "blocks", descending: true },
};
