// The blocking forest the agent computed, flattened into the Blocking tab's rows in display
// order: each root, then the sessions waiting on it, depth first. Linear in the forest's size
// (plus the sorting of siblings); no path is ever walked twice.

import { keyOf } from "./model.js";

// `tree`: the snapshot's list of roots, nodes {id, pid, children, waiting_behind, cycle?}.
// `rowOf(node)` makes a node's row; `compare` orders siblings; `keep(row)` is the filter: a
// tree is shown whole when any of its rows passes it.
export function flattenForest(tree, rowOf, compare, keep) {
  const seen = new Set();
  // Rows made once, each with its children's rows; a node met again (the agent should never
  // send one twice, a cycle included) is marked and not followed a second time.
  const made = [];
  const makeTree = (rootNode) => {
    const rootRow = rowOf(rootNode);
    seen.add(rootRow.key);
    rootRow.children = [];
    rootRow.cycle = Boolean(rootNode.cycle);
    const stack = [[rootNode, rootRow]];
    while (stack.length) {
      const [node, row] = stack.pop();
      for (const child of node.children || []) {
        if (seen.has(keyOf(child.id))) {
          row.cycle = true;
          continue;
        }
        const childRow = rowOf(child);
        seen.add(childRow.key);
        childRow.children = [];
        childRow.cycle = Boolean(child.cycle);
        row.children.push(childRow);
        stack.push([child, childRow]);
      }
    }
    return rootRow;
  };
  for (const node of tree) {
    if (!seen.has(keyOf(node.id))) made.push(makeTree(node));
  }

  const matches = (root) => {
    const stack = [root];
    while (stack.length) {
      const row = stack.pop();
      if (keep(row)) return true;
      for (const child of row.children) stack.push(child);
    }
    return false;
  };
  const shown = made.filter(matches).sort(compare);
  const rows = [];
  const stack = shown.map((root) => [root, 0]).reverse();
  while (stack.length) {
    const [row, depth] = stack.pop();
    row.depth = depth;
    row.isRoot = depth === 0;
    rows.push(row);
    const children = [...row.children].sort(compare);
    for (let i = children.length - 1; i >= 0; i -= 1) stack.push([children[i], depth + 1]);
  }
  return { rows, roots: made.length, shownRoots: shown.length };
}
