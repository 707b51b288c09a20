// How figures read on the page: pure functions, no DOM.

// Compact, so it fits a narrow column: "4.2s", "37s", "1m 26s", "2h 05m", "3d 4h".
export function humanDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  const s = Math.max(0, seconds);
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.floor(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

const RATE_UNITS = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5 };

// The API's "12.50K" back to bytes; "N/A" (a process that cannot be read) is null.
export function parseRate(text) {
  const match = typeof text === "string" ? /^([0-9.]+)([BKMGTP])$/.exec(text) : null;
  return match ? parseFloat(match[1]) * RATE_UNITS[match[2]] : null;
}

function humanPowersOf1024(bytes, units) {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function humanRate(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  if (bytes === 0) return "0";
  return humanPowersOf1024(bytes, ["B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"]);
}

export const plural = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;

// The API's numeric twins may be null, and the seed's keys "N/A": both show as a dash.
export const percent = (value) => (typeof value === "number" && Number.isFinite(value) ? `${value.toFixed(1)}%` : "–");

export const clock = (date) => date.toLocaleTimeString([], { hour12: false });

export const text = (value) => (value === null || value === undefined ? "" : String(value));

// Seconds from an ISO 8601 timestamp to `now` (ms since the epoch); null when there is none.
export function since(timestamp, now) {
  if (!timestamp) return null;
  const started = Date.parse(timestamp);
  return Number.isNaN(started) ? null : Math.max(0, (now - started) / 1000);
}
