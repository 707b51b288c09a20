// The toolbar's filters: a text searched in pid, user, database, application, client, state
// and query; and the states hidden by their check boxes.

export const STATES = [
  "active",
  "idle",
  "idle in transaction",
  "idle in transaction (aborted)",
  "fastpath function call",
  "disabled",
  "",
];
export const STATE_LABELS = { "": "no state" };

export function textFilter(needle) {
  const wanted = needle.trim().toLowerCase();
  return wanted ? (row) => row.haystack.includes(wanted) : () => true;
}

export function stateFilter(hiddenStates) {
  const hidden = new Set(hiddenStates);
  return (row) => !hidden.has(row.state || "");
}
