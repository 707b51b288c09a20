// The page's dialogs: the confirmation before a kill or cancel, its results, and the full
// text of one query with a copy button.

import { humanDuration, text } from "../logic/format.js";

const $ = (id) => document.getElementById(id);

// Fill and open the confirmation for `pids`; `rowFor(pid)` gives what the list shows.
export function openConfirm(action, pids, rowFor) {
  const n = pids.length;
  const noun = n === 1 ? "backend" : "backends";
  $("confirm-title").textContent = action === "terminate" ? `Terminate ${n} ${noun}?` : `Cancel the running query of ${n} ${noun}?`;
  $("confirm-text").textContent =
    action === "terminate"
      ? "Their connections end and their open transactions roll back."
      : "Their current queries stop with an error; the sessions stay connected.";
  const list = $("confirm-list");
  list.replaceChildren();
  for (const pid of pids) {
    const row = rowFor(pid);
    const tr = document.createElement("tr");
    tr.dataset.pid = String(pid);
    for (const value of [pid, row.user, row.database, row.state, row.query]) {
      const td = document.createElement("td");
      td.textContent = text(value);
      tr.append(td);
    }
    tr.lastChild.className = "confirm-query";
    list.append(tr);
  }
  $("confirm-yes").textContent = action === "terminate" ? `Terminate ${n} ${noun}` : `Cancel ${n} ${n === 1 ? "query" : "queries"}`;
  $("confirm").showModal();
  $("confirm-no").focus();
}

export function showResults(lines) {
  const list = $("results-list");
  list.replaceChildren();
  for (const line of lines) {
    const li = document.createElement("li");
    li.dataset.pid = String(line.pid);
    li.className = line.ok ? "ok" : "failed";
    li.textContent = `pid ${line.pid}: ${line.text}`;
    list.append(li);
  }
  $("results").hidden = false;
}

export function showQuery(row) {
  $("query-pid").textContent = String(row.pid);
  const meta = [row.user && `user ${row.user}`, row.database && `database ${row.database}`, row.state, row.duration !== null && `for ${humanDuration(row.duration)}`];
  $("query-meta").textContent = meta.filter(Boolean).join(" · ");
  $("query-text").textContent = row.query || "";
  $("copy-status").textContent = "";
  $("query-dialog").showModal();
}

export async function copyQuery() {
  const value = $("query-text").textContent;
  let copied = false;
  try {
    await navigator.clipboard.writeText(value);
    copied = true;
  } catch {
    // Outside a secure context (plain HTTP, not loopback) the clipboard API is missing.
    const area = document.createElement("textarea");
    area.value = value;
    area.className = "offscreen";
    $("query-dialog").append(area);
    area.select();
    copied = document.execCommand("copy");
    area.remove();
  }
  $("copy-status").textContent = copied ? "Copied." : "Copy failed: select the text and copy it by hand.";
}
