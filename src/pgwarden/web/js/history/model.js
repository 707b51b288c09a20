// The History tab's pure logic: windows, the stacked load chart's data, picks and labels.
// No DOM and no fetch here, so `node --test` runs all of it.

export const RANGES = [
  { id: "1h", label: "1 h", seconds: 3600 },
  { id: "6h", label: "6 h", seconds: 6 * 3600 },
  { id: "24h", label: "24 h", seconds: 24 * 3600 },
  { id: "7d", label: "7 days", seconds: 7 * 24 * 3600 },
];

// The top lists of a window, in the order the page shows them.
export const TOPS = [
  { by: "query", label: "Top queries" },
  { by: "wait_event", label: "Top waits" },
  { by: "user", label: "Top users" },
  { by: "application", label: "Top applications" },
];

// Wait event types bottom-up in the stack: CPU first, then what an incident is made of.
const WAIT_ORDER = ["CPU", "Lock", "LWLock", "IO", "IPC", "BufferPin", "Extension", "InjectionPoint", "Client", "Activity", "Timeout"];

const COLORS = {
  CPU: "#2f9e44",
  Lock: "#e03131",
  LWLock: "#f08c00",
  IO: "#1971c2",
  IPC: "#9c36b5",
  BufferPin: "#c2255c",
  Extension: "#0c8599",
  InjectionPoint: "#495057",
  Client: "#868e96",
  Activity: "#adb5bd",
  Timeout: "#ced4da",
};
const OTHER_COLORS = ["#5c940d", "#364fc7", "#d9480f", "#a61e4d", "#087f5b", "#5f3dc4"];

export function rangeById(id) {
  return RANGES.find((range) => range.id === id) || RANGES[0];
}

// The window that ends now, in whole Unix seconds.
export function rangeWindow(id, nowMs) {
  const to = Math.ceil(nowMs / 1000);
  return { from: to - rangeById(id).seconds, to };
}

// Up to an hour the agent's own step (the interval's smallest multiple giving at most 1000
// buckets, read from raw samples); longer, whole minutes, which it reads from its per-minute
// rollups instead of every sample (bench/history_page.py measures both).
export function stepFor(span) {
  const seconds = span.to - span.from;
  return seconds <= 3600 ? null : 60 * Math.ceil(seconds / 60 / 1000);
}

export function loadPath(span) {
  const step = stepFor(span);
  const query = new URLSearchParams({ from: String(span.from), to: String(span.to), by: "wait_event_type" });
  if (step !== null) query.set("step", String(step));
  return `/history/load?${query}`;
}

export function topPath(span, by, limit = 10) {
  const query = new URLSearchParams({ from: String(span.from), to: String(span.to), by, limit: String(limit) });
  return `/history/top?${query}`;
}

export function snapshotPath(at) {
  return `/history/snapshot?${new URLSearchParams({ at: String(at) })}`;
}

// Known wait event types in WAIT_ORDER, any other key after them by name.
export function orderKeys(keys) {
  const rank = (key) => {
    const at = WAIT_ORDER.indexOf(key);
    return at < 0 ? WAIT_ORDER.length : at;
  };
  return [...keys].sort((a, b) => rank(a) - rank(b) || String(a).localeCompare(String(b)));
}

export function colorOf(key, index) {
  return COLORS[key] || OTHER_COLORS[index % OTHER_COLORS.length];
}

// One column per bucket in [from, to) on the stride of the answer's points, and one per point.
function bucketTimes(answer, pointTimes) {
  const step = answer.step;
  const anchor = pointTimes.length ? pointTimes[0] : Math.floor(answer.from / step) * step;
  const first = anchor - Math.floor((anchor - answer.from) / step) * step; // on the stride, >= from
  const times = new Set(pointTimes);
  for (let t = first; t < answer.to; t += step) times.add(t);
  return [...times].sort((a, b) => a - b);
}

// /history/load's answer as the columns a stacked chart draws: `raw[i][j]` is key i's load in
// bucket j, `stacked[i][j]` the sum of keys 0..i (the top edge of band i). A bucket where no
// series has a point had no sample (a gap, before the history began, or not yet taken): null,
// drawn as a gap, never as zero load. In a sampled bucket a key without a point had none.
export function chartData(answer) {
  const keys = orderKeys(answer.series.map((series) => series.key));
  const byKey = new Map(answer.series.map((series) => [series.key, new Map(series.points)]));
  const pointTimes = [...new Set(answer.series.flatMap((series) => series.points.map(([t]) => t)))].sort((a, b) => a - b);
  const times = bucketTimes(answer, pointTimes);
  const sampled = new Set(pointTimes);
  const raw = keys.map((key) => {
    const points = byKey.get(key);
    return times.map((t) => (sampled.has(t) ? points.get(t) ?? 0 : null));
  });
  const stacked = [];
  raw.forEach((values, i) => {
    stacked.push(values.map((value, j) => (value === null ? null : value + (i ? stacked[i - 1][j] : 0))));
  });
  const total = times.map((t, j) => (sampled.has(t) ? raw.reduce((sum, values) => sum + values[j], 0) : null));
  return { times, keys, raw, stacked, total, gaps: answer.gaps || [], step: answer.step, from: answer.from, to: answer.to };
}

// Where the stack is highest in [from, to): the moment a dragged window's views are shown at.
export function busiestTime(data, from, to) {
  let best = null;
  data.times.forEach((t, j) => {
    const value = data.total[j];
    if (t + data.step <= from || t >= to || value === null) return;
    if (best === null || value > best.value) best = { t, value };
  });
  if (best === null) return null;
  // Just before the bucket's end: the last sample at or before it is one of the bucket's own
  // (its middle may come before the first of them, at the start of the history).
  return Math.round((Math.min(best.t + data.step, to) - 0.001) * 1000) / 1000;
}

// A click is a second; a drag is a window, shown at its busiest moment.
export function pick(data, startSeconds, endSeconds) {
  const a = Math.min(startSeconds, endSeconds);
  const b = Math.max(startSeconds, endSeconds);
  if (b - a < 1) return { at: Math.round(a), span: null };
  const span = { from: Math.floor(a), to: Math.ceil(b) };
  const at = busiestTime(data, span.from, span.to);
  return { at: at === null ? span.to : at, span };
}

// The "as at" field's value (local time, "YYYY-MM-DDTHH:MM[:SS]") as Unix seconds, or null.
export function secondsOfLocal(value) {
  const match = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?$/.exec(value || "");
  if (!match) return null;
  const [year, month, day, hours, minutes, seconds] = match.slice(1).map((part) => Number(part || 0));
  const date = new Date(year, month - 1, day, hours, minutes, seconds);
  return Number.isNaN(date.getTime()) ? null : Math.floor(date.getTime() / 1000);
}

// The field's value for a moment: what the chart shows, so the field starts from a pick.
export function localOfSeconds(seconds) {
  const date = new Date(seconds * 1000);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

const pad = (n) => String(n).padStart(2, "0");
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// Local wall-clock time; the day too when it is not today's.
export function moment(date, now) {
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  const sameDay = date.getFullYear() === now.getFullYear() && date.getMonth() === now.getMonth() && date.getDate() === now.getDate();
  return sameDay ? time : `${DAYS[date.getDay()]} ${date.getDate()} ${MONTHS[date.getMonth()]} ${date.getFullYear()} ${time}`;
}

export function bannerText(sampledAt, now, span = null) {
  const text = `History: as at ${moment(new Date(sampledAt), now)}`;
  if (!span) return text;
  const from = moment(new Date(span.from * 1000), now);
  const to = moment(new Date(span.to * 1000), now);
  return `${text}, the busiest moment of ${from} – ${to}`;
}

// A top row as the page lists it: average active sessions to 2 decimals, the peak, the share.
export function topRows(answer) {
  const rows = answer.rows || [];
  const sum = rows.reduce((total, row) => total + row.aas, 0);
  return rows.map((row) => ({
    key: row.key === null || row.key === undefined || row.key === "" ? "(none)" : String(row.key),
    aas: row.aas.toFixed(2),
    peak: String(row.peak),
    share: sum > 0 ? row.aas / sum : 0,
  }));
}

// What the legend says for one series under the cursor: its own load, not the stack's top.
export function legendValue(value) {
  return value === null || value === undefined ? "no sample" : value.toFixed(value >= 10 ? 0 : 1);
}

// The time axis in 24-hour local time: seconds when ticks are under a minute apart, and the
// day under the first tick and under each tick where the day changes, unless it is today.
export function axisLabels(splits, now) {
  const seconds = splits.length > 1 && splits[1] - splits[0] < 60;
  let day = null;
  return splits.map((t) => {
    const date = new Date(t * 1000);
    const time = `${pad(date.getHours())}:${pad(date.getMinutes())}${seconds ? `:${pad(date.getSeconds())}` : ""}`;
    const thisDay = `${date.getDate()} ${MONTHS[date.getMonth()]}`;
    const today = thisDay === `${now.getDate()} ${MONTHS[now.getMonth()]}` && date.getFullYear() === now.getFullYear();
    const label = thisDay !== day && !(day === null && today) ? `${time}\n${thisDay}` : time;
    day = thisDay;
    return label;
  });
}
