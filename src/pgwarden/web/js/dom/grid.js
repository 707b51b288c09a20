// The live tabs' table: a header built from the columns, and virtual scrolling over the rows
// (only the visible ones, and a margin, exist in the DOM), each <tr> touched only where the
// row changed. Rows are keyed by `key` (pid, or "0:<gid>" for a prepared transaction).

import { humanDuration } from "../logic/format.js";

const ROW_HEIGHT = 28; // px; style.css gives every body row this height
const OVERSCAN = 12; // rows rendered above and below the visible ones
const QUERY_MIN_WIDTH = 320; // px

export class Grid {
  constructor({ table, cols, head, body, scroller, selected }) {
    Object.assign(this, { table, cols, head, body, scroller, selected });
    this.columns = [];
    this.rows = [];
    this.pool = [];
    this.headerKey = "";
  }

  setColumns(key, columns, sort) {
    this.columns = columns;
    if (key !== this.headerKey) {
      this.headerKey = key;
      this.buildHeader();
    }
    for (const th of this.head.children) {
      const sorted = th.dataset.col === sort.column;
      th.setAttribute("aria-sort", sorted ? (sort.descending ? "descending" : "ascending") : "none");
    }
  }

  buildHeader() {
    this.cols.replaceChildren();
    this.head.replaceChildren();
    for (const column of this.columns) {
      const col = document.createElement("col");
      if (column.width) col.style.width = `${column.width}px`;
      this.cols.append(col);
      const th = document.createElement("th");
      th.dataset.col = column.id;
      if (column.numeric) th.classList.add("num");
      if (column.select) {
        const all = document.createElement("input");
        all.type = "checkbox";
        all.id = "select-all";
        all.title = "Select every row shown";
        all.setAttribute("aria-label", "Select every row shown");
        th.append(all);
      } else {
        th.textContent = column.label;
        if (!column.act) {
          th.classList.add("sortable");
          th.tabIndex = 0;
        }
        if (column.title) th.title = column.title;
      }
      this.head.append(th);
    }
    // The query takes what is left, never less than QUERY_MIN_WIDTH: wider, the table scrolls.
    const fixed = this.columns.reduce((sum, column) => sum + (column.width || 0), 0);
    const flexible = this.columns.some((column) => !column.width);
    this.table.style.minWidth = `${fixed + (flexible ? QUERY_MIN_WIDTH : 0)}px`;
    for (const slot of this.pool) slot.element.remove();
    this.pool = [];
    // Spacers span exactly the columns: extra ones would take width from the query.
    for (const td of this.body.querySelectorAll("tr.spacer td")) td.colSpan = this.columns.length;
  }

  setRows(rows) {
    this.rows = rows;
    this.paint();
  }

  rowOf(element) {
    const slot = this.pool.find((s) => s.element === element);
    return slot ? this.rows.find((row) => row.key === slot.key) || null : null;
  }

  makeRow() {
    const element = document.createElement("tr");
    const cells = this.columns.map((column) => {
      const td = document.createElement("td");
      td.dataset.col = column.id;
      if (column.numeric) td.classList.add("num");
      if (column.select) {
        const box = document.createElement("input");
        box.type = "checkbox";
        box.className = "select";
        box.setAttribute("aria-label", "Select this backend");
        td.append(box);
      } else if (column.act) {
        for (const [action, label] of [["cancel", "Cancel"], ["terminate", "Terminate"]]) {
          const button = document.createElement("button");
          button.type = "button";
          button.dataset.action = action;
          button.className = action === "terminate" ? "small danger" : "small";
          button.textContent = label;
          td.append(button);
        }
      } else if (column.query) {
        td.classList.add("query");
        td.title = "Click for the full query";
      }
      return { td, column, text: null };
    });
    element.append(...cells.map((cell) => cell.td));
    return { element, cells, key: null };
  }

  // Bind one pooled <tr> to a row, touching only what changed.
  bind(slot, row) {
    const element = slot.element;
    slot.key = row.key;
    if (element.dataset.pid !== String(row.pid)) element.dataset.pid = String(row.pid);
    if (element.dataset.id !== row.key) element.dataset.id = row.key;
    const stateClass = row.state === "idle in transaction" ? "idle-xact" : row.state === "idle in transaction (aborted)" ? "idle-xact aborted" : "";
    const className = [stateClass, row.isRoot ? "root" : "", row.depth > 0 ? "child" : "", this.selected.has(row.pid) ? "selected" : ""]
      .filter(Boolean)
      .join(" ");
    if (element.className !== className) element.className = className;
    for (const cell of slot.cells) {
      const { td, column } = cell;
      if (column.select) {
        td.firstChild.checked = this.selected.has(row.pid);
        td.firstChild.disabled = row.pid === 0; // a prepared transaction: no backend to signal
        continue;
      }
      if (column.act) {
        td.classList.toggle("has-actions", Boolean(row.isRoot) && row.pid !== 0);
        continue;
      }
      const value = column.text(row);
      if (column.tree) {
        const indent = `${8 + (row.depth || 0) * 18}px`;
        if (td.style.paddingLeft !== indent) td.style.paddingLeft = indent;
      }
      if (cell.text !== value) {
        cell.text = value;
        td.textContent = value;
        if (!column.numeric && !column.query) td.title = value; // the whole text, when cut short
      }
      if (column.id === "duration") {
        const title = row.xactStart ? `transaction open for ${humanDuration(row.xactAge)}; query started ${row.queryStart}` : "";
        if (td.title !== title) td.title = title;
      } else if (column.id === "state") {
        const title = row.waitEvent ? `waits for ${row.waitEvent}` : "";
        if (td.title !== title) td.title = title;
      }
    }
  }

  paint() {
    const count = this.rows.length;
    const viewport = Math.max(this.scroller.clientHeight, ROW_HEIGHT * 10);
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(count, Math.ceil((this.scroller.scrollTop + viewport) / ROW_HEIGHT) + OVERSCAN);
    const wanted = Math.max(0, last - first);
    let top = this.body.querySelector("tr.spacer-top");
    let bottom = this.body.querySelector("tr.spacer-bottom");
    if (!top) {
      top = this.spacer("spacer-top");
      bottom = this.spacer("spacer-bottom");
      this.body.replaceChildren(top, bottom);
    }
    while (this.pool.length < wanted) {
      const slot = this.makeRow();
      this.pool.push(slot);
      bottom.before(slot.element);
    }
    while (this.pool.length > wanted) this.pool.pop().element.remove();
    for (let i = 0; i < wanted; i += 1) this.bind(this.pool[i], this.rows[first + i]);
    top.firstChild.style.height = `${first * ROW_HEIGHT}px`;
    bottom.firstChild.style.height = `${(count - last) * ROW_HEIGHT}px`;
  }

  spacer(className) {
    const tr = document.createElement("tr");
    tr.className = `spacer ${className}`;
    tr.setAttribute("aria-hidden", "true");
    const td = document.createElement("td");
    td.colSpan = this.columns.length;
    tr.append(td);
    return tr;
  }
}
