// node --test: the History tab's pure logic (src/pgwarden/web/history/model.js).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  axisLabels,
  bannerText,
  busiestTime,
  chartData,
  legendValue,
  localOfSeconds,
  loadPath,
  moment,
  orderKeys,
  pick,
  rangeWindow,
  secondsOfLocal,
  snapshotPath,
  stepFor,
  topPath,
  topRows,
} from "../../src/pgwarden/web/js/history/model.js";

test("a range is the window of that length ending now, in whole seconds", () => {
  assert.deepEqual(rangeWindow("1h", 1_700_000_000_400), { from: 1_699_996_401, to: 1_700_000_001 });
  assert.deepEqual(rangeWindow("7d", 1_700_000_000_000), { from: 1_700_000_000 - 604_800, to: 1_700_000_000 });
  assert.deepEqual(rangeWindow("no such range", 1_000_000), { from: 1000 - 3600, to: 1000 });
});

test("the paths ask for what the contract names", () => {
  assert.equal(loadPath({ from: 10, to: 20 }), "/history/load?from=10&to=20&by=wait_event_type");
  assert.equal(loadPath({ from: 0, to: 86400 }), "/history/load?from=0&to=86400&by=wait_event_type&step=120");
  assert.equal(topPath({ from: 10, to: 20 }, "wait_event"), "/history/top?from=10&to=20&by=wait_event&limit=10");
  assert.equal(snapshotPath(1234), "/history/snapshot?at=1234");
});

test("CPU is at the bottom of the stack, known wait types next, others after by name", () => {
  assert.deepEqual(orderKeys(["Zeta", "IO", "Lock", "Alpha", "CPU"]), ["CPU", "Lock", "IO", "Alpha", "Zeta"]);
});

test("the chart stacks the series and keeps each one's own value", () => {
  const data = chartData({
    from: 100,
    to: 112,
    step: 4,
    series: [
      { key: "Lock", points: [[100, 3], [104, 10]] },
      { key: "CPU", points: [[100, 1], [104, 2], [108, 0.5]] },
    ],
    gaps: [],
  });
  assert.deepEqual(data.times, [100, 104, 108]);
  assert.deepEqual(data.keys, ["CPU", "Lock"]);
  assert.deepEqual(data.raw, [[1, 2, 0.5], [3, 10, 0]]); // no Lock point at 108: none waited
  assert.deepEqual(data.stacked, [[1, 2, 0.5], [4, 12, 0.5]]);
  assert.deepEqual(data.total, [4, 12, 0.5]);
});

test("a bucket with no point had no sample: null, drawn as a gap, never as zero load", () => {
  const data = chartData({
    from: 0,
    to: 10,
    step: 1,
    // As the agent answers: every sampled bucket has a point for every key, 0 included.
    series: [
      { key: "CPU", points: [[0, 2], [1, 2], [6, 1], [7, 1], [8, 0]] },
      { key: "IO", points: [[0, 0], [1, 1], [6, 0], [7, 0], [8, 0]] },
    ],
    gaps: [[2, 6]],
  });
  assert.deepEqual(data.times, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(data.raw[0], [2, 2, null, null, null, null, 1, 1, 0, null]); // 9: not yet sampled
  assert.deepEqual(data.stacked[1], [2, 3, null, null, null, null, 1, 1, 0, null]);
  assert.deepEqual(data.total, [2, 3, null, null, null, null, 1, 1, 0, null]);
  assert.deepEqual(data.gaps, [[2, 6]]); // kept, for the chart to shade
});

test("in a sampled bucket, a key with no point had no session", () => {
  const data = chartData({
    from: 0,
    to: 8,
    step: 4,
    series: [{ key: "Lock", points: [[4, 3]] }, { key: "CPU", points: [[0, 1]] }],
    gaps: [],
  });
  assert.deepEqual(data.raw, [[1, 0], [0, 3]]);
});

test("the buckets follow the answer's own stride even when from is not on it", () => {
  const data = chartData({ from: 3, to: 15, step: 4, series: [{ key: "CPU", points: [[4, 1], [8, 2]] }], gaps: [] });
  assert.deepEqual(data.times, [4, 8, 12]);
  assert.deepEqual(data.raw[0], [1, 2, null]);
  const earlier = chartData({ from: 3, to: 15, step: 4, series: [{ key: "CPU", points: [[0, 1], [8, 2]] }], gaps: [] });
  assert.deepEqual(earlier.times, [0, 4, 8, 12]); // 0..4 holds from: the agent aligns buckets on the step
  assert.deepEqual(earlier.raw[0], [1, null, 2, null]);
  const empty = chartData({ from: 0, to: 3, step: 1, series: [], gaps: [[0, 3]] });
  assert.deepEqual(empty.times, [0, 1, 2]);
  assert.deepEqual(empty.keys, []);
  assert.deepEqual(empty.total, [null, null, null]);
});

test("a click picks one second, a drag a window shown at its busiest moment", () => {
  const data = chartData({
    from: 0,
    to: 40,
    step: 4,
    series: [{ key: "Lock", points: [0, 4, 8, 12, 16, 20, 24, 28, 32, 36].map((t) => [t, { 8: 1, 12: 9, 16: 10, 20: 2 }[t] || 0]) }],
    gaps: [],
  });
  assert.deepEqual(pick(data, 13.6, 13.9), { at: 14, span: null });
  assert.deepEqual(pick(data, 21.2, 6.5), { at: 19.999, span: { from: 6, to: 22 } });
  assert.equal(busiestTime(data, 0, 12), 11.999); // bucket 8..12, the only one with load
  assert.equal(busiestTime(data, 30, 40), 31.999); // all zero: the first bucket that overlaps
  assert.equal(busiestTime(data, 6, 14), 13.999); // 12..16 is cut by the window's end
  const gapped = chartData({ from: 0, to: 8, step: 4, series: [], gaps: [[0, 8]] });
  assert.equal(busiestTime(gapped, 0, 8), null);
  assert.deepEqual(pick(gapped, 1, 7), { at: 7, span: { from: 1, to: 7 } });
});

test("times read as local wall-clock time, with the day when it is not today", () => {
  const now = new Date(2026, 11, 1, 20, 0, 0);
  assert.equal(moment(new Date(2026, 11, 1, 3, 12, 7), now), "03:12:07");
  assert.equal(moment(new Date(2026, 10, 30, 23, 5, 9), now), "Mon 30 Nov 2026 23:05:09");
  const at = new Date(2026, 11, 1, 3, 12, 7).toISOString();
  assert.equal(bannerText(at, now), "History: as at 03:12:07");
  const window = { from: new Date(2026, 11, 1, 3, 10, 0) / 1000, to: new Date(2026, 11, 1, 3, 15, 0) / 1000 };
  assert.equal(bannerText(at, now, window), "History: as at 03:12:07, the busiest moment of 03:10:00 – 03:15:00");
});

test("top rows: average active sessions to 2 decimals, a share of the bar, a name for null", () => {
  const rows = topRows({
    rows: [
      { key: "Lock: transactionid", aas: 3, peak: 10, samples: 80 },
      { key: null, aas: 1, peak: 1, samples: 20 },
    ],
  });
  assert.deepEqual(rows, [
    { key: "Lock: transactionid", aas: "3.00", peak: "10", share: 0.75 },
    { key: "(none)", aas: "1.00", peak: "1", share: 0.25 },
  ]);
  assert.deepEqual(topRows({ rows: [] }), []);
});

test("the legend shows a series' own load, and says when there was no sample", () => {
  assert.equal(legendValue(null), "no sample");
  assert.equal(legendValue(2.25), "2.3");
  assert.equal(legendValue(12.4), "12");
});

test("the time axis is 24-hour local time, with the day where it changes", () => {
  const now = new Date(2026, 11, 1, 20, 0, 0);
  const at = (month, d, h, m, s = 0) => new Date(2026, month, d, h, m, s) / 1000;
  assert.deepEqual(axisLabels([at(11, 1, 19, 0), at(11, 1, 19, 30)], now), ["19:00", "19:30"]);
  assert.deepEqual(axisLabels([at(11, 1, 19, 0, 10), at(11, 1, 19, 0, 20)], now), ["19:00:10", "19:00:20"]);
  assert.deepEqual(axisLabels([at(10, 29, 12, 0), at(10, 30, 0, 0), at(10, 30, 12, 0), at(11, 1, 0, 0)], now), [
    "12:00\n29 Nov",
    "00:00\n30 Nov",
    "12:00",
    "00:00\n1 Dec",
  ]);
});

test("model.js touches no DOM and no browser API", () => {
  const code = readFileSync(new URL("../../src/pgwarden/web/js/history/model.js", import.meta.url), "utf8")
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("//"))
    .join("\n");
  assert.doesNotMatch(code, /\b(document|window|localStorage|sessionStorage|EventSource|requestAnimationFrame|fetch)\b/);
});

test("the as-at field reads and writes local time to the second", () => {
  const at = new Date(2026, 11, 1, 3, 12, 7) / 1000;
  assert.equal(secondsOfLocal("2026-12-01T03:12:07"), at);
  assert.equal(secondsOfLocal("2026-12-01T03:12"), at - 7);
  assert.equal(localOfSeconds(at), "2026-12-01T03:12:07");
  assert.equal(secondsOfLocal(localOfSeconds(at + 0.6)), at);
  for (const bad of ["", null, "03:12:07", "2026-12-01 03:12:07", "2026-12-01T03:12:07Z"]) assert.equal(secondsOfLocal(bad), null);
});

test("past an hour the chart asks for whole minutes, at most 1000 buckets", () => {
  const span = (seconds) => ({ from: 1000, to: 1000 + seconds });
  assert.equal(stepFor(span(3600)), null); // the agent's own step
  assert.equal(stepFor(span(3601)), 60);
  assert.equal(stepFor(span(6 * 3600)), 60);
  assert.equal(stepFor(span(24 * 3600)), 120);
  assert.equal(stepFor(span(7 * 86400)), 660);
  for (const seconds of [3601, 6 * 3600, 86400, 7 * 86400, 31 * 86400]) {
    assert.ok(seconds / stepFor(span(seconds)) <= 1000, String(seconds));
  }
});
