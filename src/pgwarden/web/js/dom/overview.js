// The overview strip above the tabs: one <span> per item, rewritten only where it changed.

import { overviewItems } from "../logic/overview.js";

export function renderOverview(strip, overview) {
  const items = overviewItems(overview);
  strip.hidden = items.length === 0;
  const known = new Map([...strip.children].map((element) => [element.dataset.item, element]));
  items.forEach((item, position) => {
    let element = known.get(item.id);
    if (!element) {
      element = document.createElement("span");
      element.dataset.item = item.id;
      element.append(document.createElement("b"), " ", document.createElement("span"));
    }
    if (strip.children[position] !== element) strip.insertBefore(element, strip.children[position] || null);
    const className = `overview-item${item.level ? ` is-${item.level}` : ""}`;
    if (element.className !== className) element.className = className;
    const [label, value] = [element.children[0], element.children[1]];
    if (label.textContent !== item.label) label.textContent = item.label;
    if (value.textContent !== item.value) value.textContent = item.value;
    if (element.title !== item.title) element.title = item.title;
  });
  while (strip.children.length > items.length) strip.lastChild.remove();
}
