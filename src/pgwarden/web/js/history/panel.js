// The History tab's DOM: the load chart (uPlot), the picks on it, and the top lists. A panel
// tab (see ../tabs.js): what to fetch and how to read it is in model.js; a pick hands the
// snapshot to the page, whose live tabs' own table and tree code render it under a banner.
import uPlot from "../../vendor/uplot/uPlot.esm.js";

import {
  RANGES,
  TOPS,
  axisLabels,
  chartData,
  colorOf,
  legendValue,
  loadPath,
  localOfSeconds,
  moment,
  pick,
  rangeById,
  rangeWindow,
  secondsOfLocal,
  snapshotPath,
  topPath,
  topRows,
} from "./model.js";

const CHART_HEIGHT = 240; // px
const CLICK_SLOP = 3; // px a press may move and still be a click
const GAP_FILL = "rgba(134, 142, 150, 0.22)";
const PICK_STROKE = "#212529";
const RANGE_KEY = "pgwarden.history.range";
const STEPPED = uPlot.paths.stepped({ align: 1 });

function element(tag, { text, className, id } = {}) {
  const made = document.createElement(tag);
  if (text !== undefined) made.textContent = text;
  if (className) made.className = className;
  if (id) made.id = id;
  return made;
}

function button(text, id) {
  const made = element("button", { text, id });
  made.type = "button";
  return made;
}

// The panel's own markup, made once when the tab is first opened.
function layout(section) {
  const bar = element("div", { className: "history-bar" });
  const ranges = element("div", { className: "ranges", id: "history-ranges" });
  ranges.setAttribute("role", "group");
  ranges.setAttribute("aria-label", "Range");
  for (const range of RANGES) {
    const choice = button(range.label);
    choice.dataset.range = range.id;
    ranges.append(choice);
  }
  const reload = button("Reload", "history-reload");
  reload.title = "Load the range again, up to now";
  const zoom = button("Zoom to the window", "history-zoom");
  zoom.title = "Draw only the window dragged over, second by second where it is short";
  zoom.hidden = true;
  // A second typed in, for a time read in an alert or a log, and for the keyboard.
  const asAt = element("form", { className: "as-at", id: "history-as-at" });
  const field = element("input", { id: "history-at" });
  field.type = "datetime-local";
  field.step = "1";
  field.required = true;
  field.setAttribute("aria-label", "As at (local time)");
  const show = element("button", { text: "Show", id: "history-show" });
  show.type = "submit";
  asAt.append(element("span", { text: "As at" }), field, show);
  bar.append(
    element("h2", { className: "history-title", text: "Load in average active sessions, by wait event type" }),
    ranges,
    reload,
    zoom,
    asAt,
    element("span", { className: "history-hint", text: "Click a second, or drag over a window, to see the sessions as they were then." }),
  );
  const chart = element("div", { className: "history-chart", id: "history-chart" });
  const message = element("p", { className: "history-message", id: "history-message" });
  message.setAttribute("role", "status");
  message.hidden = true;
  const topsTitle = element("h2", { className: "history-title", id: "history-tops-title" });
  const tops = element("div", { className: "tops", id: "history-tops" });
  section.classList.add("history");
  section.setAttribute("aria-label", "History");
  section.append(bar, chart, message, topsTitle, tops);
  return { ranges, reload, zoom, asAt, field, chart, message, topsTitle, tops };
}

function topTable(top, rows) {
  const section = element("section", { className: "top" });
  section.dataset.by = top.by;
  section.append(element("h3", { text: top.label }));
  if (!rows.length) {
    section.append(element("p", { className: "top-empty", text: "Nothing recorded." }));
    return section;
  }
  const table = element("table", { className: "top-list" });
  const head = table.createTHead().insertRow();
  head.append(
    element("th", { text: top.by.replace("_", " ") }),
    element("th", { text: "AAS", className: "num" }),
    element("th", { text: "peak", className: "num" }),
  );
  head.cells[1].title = "average active sessions over the window";
  head.cells[2].title = "the most sessions in one sample";
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    const name = element("td", { className: "top-key" });
    const bar = element("span", { className: "top-bar" });
    bar.style.width = `${Math.round(row.share * 100)}%`; // CSSOM, which the page's CSP allows
    name.append(bar, element("span", { className: "top-text", text: row.key }));
    name.title = row.key;
    tr.append(name, element("td", { text: row.aas, className: "num" }), element("td", { text: row.peak, className: "num" }));
  }
  section.append(table);
  return section;
}

// context: {api, expired, showHistory({snapshot, at, span}), live()} from the page.
export function createHistoryPanel() {
  const state = {
    context: null,
    parts: null,
    section: null,
    range: rangeById(localStorage.getItem(RANGE_KEY) || "1h").id,
    span: null, // the range's {from, to} as last loaded
    zoom: null, // the {from, to} drawn instead of the range, after "Zoom to the window"
    data: null,
    chart: null,
    picked: null, // {at, span} of the pick shown, if any (span: the window dragged over)
    generation: 0, // of the latest load: answers to older ones are dropped
  };

  function say(text) {
    state.parts.message.textContent = text || "";
    state.parts.message.hidden = !text;
  }

  // A 401 ends the session (the page shows the login); anything else is said in the panel.
  function failed(error, what) {
    if (error.status === 401) {
      state.context.expired();
      return;
    }
    say(error.status === 404 ? error.message : `${what}: ${error.message}`);
  }

  // ---------------------------------------------------------------- the chart

  // Gaps in grey over the whole height, so "not sampling" never reads as "no load".
  function drawOverlay(u) {
    const { ctx } = u;
    const { top, height } = u.bbox;
    ctx.save();
    ctx.fillStyle = GAP_FILL;
    for (const [from, to] of state.data.gaps) {
      const left = u.valToPos(Math.max(from, state.data.from), "x", true);
      const right = u.valToPos(Math.min(to, state.data.to), "x", true);
      if (right > left) ctx.fillRect(left, top, right - left, height);
    }
    if (state.picked && !state.picked.span) {
      const x = Math.round(u.valToPos(state.picked.at, "x", true));
      ctx.strokeStyle = PICK_STROKE;
      ctx.lineWidth = 2 * uPlot.pxRatio;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
    }
    ctx.restore();
  }

  function options(data, width) {
    const now = new Date();
    const series = [{ label: "time", value: (u, t) => (t === null ? "" : moment(new Date(t * 1000), now)) }];
    data.keys.forEach((key, i) => {
      const color = colorOf(key, i);
      series.push({
        label: key,
        stroke: color,
        fill: `${color}cc`,
        width: 1,
        // A point stands for its whole bucket: flat from its start to the next one.
        paths: STEPPED,
        points: { show: false },
        value: (u, v, s, idx) => (idx === null || idx === undefined ? "" : legendValue(data.raw[s - 1][idx])),
      });
    });
    return {
      width,
      height: CHART_HEIGHT,
      series,
      // Each band fills between a series' stacked edge and the one below it.
      bands: data.keys.slice(1).map((_, i) => ({ series: [i + 2, i + 1] })),
      scales: {
        x: { time: true, range: () => [data.from, data.to] },
        y: { range: (u, min, max) => [0, Math.max(1, Math.ceil((max || 0) * 1.1))] },
      },
      axes: [
        { values: (u, splits) => axisLabels(splits, now) },
        { label: "average active sessions", labelSize: 20, size: 44 },
      ],
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      hooks: {
        draw: [drawOverlay],
        setSelect: [
          (u) => {
            if (u.select.width < CLICK_SLOP) return;
            const start = u.posToVal(u.select.left, "x");
            const end = u.posToVal(u.select.left + u.select.width, "x");
            choose(pick(state.data, start, end));
          },
        ],
      },
    };
  }

  function draw(data) {
    const holder = state.parts.chart;
    state.data = data;
    if (state.chart) state.chart.destroy();
    holder.replaceChildren();
    const chart = new uPlot(options(data, Math.max(320, holder.clientWidth)), [data.times, ...data.stacked], holder);
    state.chart = chart;
    let pressedAt = null;
    chart.over.addEventListener("mousedown", (event) => {
      pressedAt = event.clientX;
    });
    chart.over.addEventListener("click", (event) => {
      if (pressedAt === null || Math.abs(event.clientX - pressedAt) >= CLICK_SLOP) return;
      const t = chart.posToVal(event.clientX - chart.over.getBoundingClientRect().left, "x");
      chart.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
      choose(pick(state.data, t, t));
    });
    // What is drawn, for a reader of the DOM (and the end-to-end test).
    Object.assign(holder.dataset, {
      from: String(data.from),
      to: String(data.to),
      step: String(data.step),
      keys: data.keys.join(","),
      gaps: JSON.stringify(data.gaps),
    });
  }

  function resize() {
    if (state.chart && state.section && !state.section.hidden) {
      state.chart.setSize({ width: Math.max(320, state.parts.chart.clientWidth), height: CHART_HEIGHT });
    }
  }

  // ---------------------------------------------------------------- loading

  async function load() {
    const generation = (state.generation += 1);
    const span = state.zoom || rangeWindow(state.range, Date.now());
    say("Loading…");
    state.section.setAttribute("aria-busy", "true");
    try {
      const answer = await state.context.api(loadPath(span));
      if (generation !== state.generation) return;
      state.span = span;
      draw(chartData(answer));
      say(state.data.keys.length ? "" : "No session was recorded in this window.");
      await loadTops(state.picked && state.picked.span ? state.picked.span : span, generation);
    } catch (error) {
      if (generation === state.generation) failed(error, "History cannot be read");
    } finally {
      if (generation === state.generation) state.section.setAttribute("aria-busy", "false");
    }
  }

  async function loadTops(span, generation = state.generation) {
    const answers = await Promise.all(TOPS.map((top) => state.context.api(topPath(span, top.by))));
    if (generation !== state.generation) return;
    state.parts.tops.replaceChildren(...TOPS.map((top, i) => topTable(top, topRows(answers[i]))));
    const now = new Date();
    state.parts.topsTitle.textContent = state.picked && state.picked.span
      ? `Top of ${moment(new Date(span.from * 1000), now)} – ${moment(new Date(span.to * 1000), now)}`
      : state.zoom
        ? `Top of ${moment(new Date(span.from * 1000), now)} – ${moment(new Date(span.to * 1000), now)}`
        : `Top of the last ${rangeById(state.range).label}`;
  }

  // ---------------------------------------------------------------- picks

  async function choose(picked) {
    const generation = state.generation;
    try {
      const snapshot = await state.context.api(snapshotPath(picked.at));
      if (generation !== state.generation) return;
      state.picked = picked;
      state.parts.zoom.hidden = !picked.span;
      state.parts.field.value = localOfSeconds(picked.at);
      say("");
      if (state.chart) state.chart.redraw(false, false);
      state.context.showHistory({ ...picked, snapshot });
      if (picked.span) await loadTops(picked.span, generation);
    } catch (error) {
      // A 404 says there was no sample then, or the gap it falls in: the agent's sentence.
      if (generation === state.generation) failed(error, "History cannot be read");
    }
  }

  // Back to live: the pick is forgotten, the tops are the range's again.
  function forget() {
    const hadWindow = Boolean(state.picked && state.picked.span);
    state.picked = null;
    state.parts.zoom.hidden = true;
    if (!state.chart) return;
    state.chart.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    state.chart.redraw(false, false);
    if (hadWindow && state.span) loadTops(state.span).catch((error) => failed(error, "History cannot be read"));
  }

  function markRange() {
    for (const choice of state.parts.ranges.children) {
      choice.setAttribute("aria-pressed", String(!state.zoom && choice.dataset.range === state.range));
    }
  }

  return {
    mount(section, context) {
      state.section = section;
      state.context = context;
      state.parts = layout(section);
      markRange();
      state.parts.ranges.addEventListener("click", (event) => {
        const range = event.target.dataset.range;
        if (!range) return;
        state.range = range;
        state.zoom = null;
        localStorage.setItem(RANGE_KEY, range);
        markRange();
        if (state.picked) context.live();
        load();
      });
      state.parts.reload.addEventListener("click", () => load());
      state.parts.asAt.addEventListener("submit", (event) => {
        event.preventDefault();
        const at = secondsOfLocal(state.parts.field.value);
        if (at === null) say("Give a date and a time, to the second.");
        else choose({ at, span: null });
      });
      state.parts.zoom.addEventListener("click", () => {
        if (!state.picked || !state.picked.span) return;
        state.zoom = state.picked.span;
        state.parts.zoom.hidden = true;
        markRange();
        load();
      });
      window.addEventListener("resize", resize);
    },
    // Loaded afresh on each visit, unless a picked moment is being looked at.
    show() {
      if (!state.data || !state.picked) load();
    },
    hide() {},
    forget,
  };
}
