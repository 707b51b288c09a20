import assert from "node:assert/strict";
import { test } from "node:test";

import { humanDuration, humanRate, parseRate, percent, plural, since } from "../../src/pgwarden/web/js/logic/format.js";

test("durations are compact and grow units as they grow", () => {
  assert.equal(humanDuration(4.21), "4.2s");
  assert.equal(humanDuration(37.9), "37s");
  assert.equal(humanDuration(86), "1m 26s");
  assert.equal(humanDuration(2 * 3600 + 5 * 60), "2h 05m");
  assert.equal(humanDuration(3 * 86400 + 4 * 3600), "3d 4h");
  assert.equal(humanDuration(-1), "0.0s");
  assert.equal(humanDuration(null), "");
  assert.equal(humanDuration(NaN), "");
});

test("the API's rates read back as bytes; N/A is no figure", () => {
  assert.equal(parseRate("0.00B"), 0);
  assert.equal(parseRate("12.50K"), 12.5 * 1024);
  assert.equal(parseRate("1.00G"), 1024 ** 3);
  assert.equal(parseRate("N/A"), null);
  assert.equal(parseRate(undefined), null);
});

test("rates and percentages for the table", () => {
  assert.equal(humanRate(0), "0");
  assert.equal(humanRate(null), "–");
  assert.equal(humanRate(512), "512 B/s");
  assert.equal(humanRate(1536), "1.5 KiB/s");
  assert.equal(humanRate(20 * 1024 ** 2), "20 MiB/s");
  assert.equal(percent(12.345), "12.3%");
  assert.equal(percent("N/A"), "–");
  assert.equal(percent(null), "–");
  assert.equal(plural(1, "blocker"), "1 blocker");
  assert.equal(plural(2, "blocker"), "2 blockers");
});

test("seconds since a timestamp, never negative", () => {
  const now = Date.parse("2026-12-01T20:00:10Z");
  assert.equal(since("2026-12-01T20:00:00+00:00", now), 10);
  assert.equal(since("2026-12-01T20:00:20+00:00", now), 0);
  assert.equal(since(null, now), null);
  assert.equal(since("not a date", now), null);
});
