// The page's tabs, in one registry: the tab bar, the preference and the panels come from it,
// so a new view plugs in as one more entry, in its own module.
//
// A tab is {id, label, order, ...} and one of:
//   grid:  {columns(admin), rows(model, prefs), empty, states}  a live view of the snapshot,
//          drawn by the shared table (see live-tabs.js);
//   panel: {mount(element, context), show(), hide()}  a view that draws its own <section>;
//          `context` gives {api, admin(), expired(), model()} (see main.js).
// `counted`: the tab shows model.counts[id] beside its label.

const registry = [];

export function registerTab(tab) {
  if (!tab || typeof tab.id !== "string" || !/^[a-z][a-z0-9-]*$/.test(tab.id)) {
    throw new Error(`a tab needs an id of lower-case letters: ${tab && tab.id}`);
  }
  if (registry.some((known) => known.id === tab.id)) throw new Error(`tab ${tab.id} is registered twice`);
  if (Boolean(tab.grid) === Boolean(tab.panel)) throw new Error(`tab ${tab.id} needs one of grid or panel`);
  registry.push({ order: registry.length * 10, ...tab });
  registry.sort((a, b) => a.order - b.order);
}

export const allTabs = () => [...registry];

export const tabById = (id) => registry.find((tab) => tab.id === id) || null;

// The tab to open: the saved one while it exists, else the first.
export const tabOrDefault = (id) => tabById(id) || registry[0] || null;
