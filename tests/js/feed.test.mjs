import assert from "node:assert/strict";
import { test } from "node:test";

import { Feed, isDue } from "../../src/pgwarden/web/js/logic/feed.js";

// A clock whose timers run only when the test moves it on.
class Clock {
  constructor() {
    this.now = 0;
    this.timers = new Map();
    this.next = 1;
  }
  setTimeout(fn, ms) {
    const id = this.next++;
    this.timers.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(id) {
    this.timers.delete(id);
  }
  async advance(ms) {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
      await settle();
    }
    this.now = until;
    await settle();
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

// What the page needs of an EventSource: listeners, readyState, close().
class FakeStream {
  constructor() {
    this.listeners = { snapshot: [], unavailable: [], end: [], error: [] };
    this.readyState = 0;
    this.closed = false;
  }
  addEventListener(type, fn) {
    this.listeners[type].push(fn);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  send(snapshot) {
    this.readyState = 1;
    for (const fn of this.listeners.snapshot) fn({ data: JSON.stringify(snapshot) });
  }
  emit(type, data) {
    for (const fn of this.listeners[type]) fn({ data });
  }
  fail(readyState) {
    this.readyState = readyState;
    for (const fn of this.listeners.error) fn({});
  }
}

function staged({ poll = async () => ({ via: "poll" }) } = {}) {
  const clock = new Clock();
  const streams = [];
  const deliveries = [];
  const errors = [];
  let polls = 0;
  const feed = new Feed({
    openStream: () => {
      const stream = new FakeStream();
      streams.push(stream);
      return stream;
    },
    poll: async () => {
      polls += 1;
      return poll();
    },
    silenceMs: (gapMs) => 2 * Math.max(1000, gapMs ?? 0),
    pollMs: () => 1000,
    onDelivery: (delivery) => deliveries.push({ ...delivery, snapshot: delivery.read() }),
    onError: (error) => errors.push(error),
    now: () => clock.now,
    timers: clock,
    retryStreamMs: 10000,
  });
  return { clock, feed, streams, deliveries, errors, polls: () => polls };
}

test("a stream that gets through: every event delivered, no poll", async () => {
  const { clock, feed, streams, deliveries, polls } = staged();
  feed.start();
  for (let tick = 0; tick < 5; tick += 1) {
    await clock.advance(1000);
    streams[0].send({ tick });
  }
  await clock.advance(1500); // less than two intervals of silence
  assert.deepEqual(deliveries.map((d) => [d.via, d.snapshot.tick]), [0, 1, 2, 3, 4].map((tick) => ["stream", tick]));
  assert.equal(polls(), 0);
  assert.equal(feed.mode, "stream");
  feed.stop();
  assert.equal(streams[0].closed, true);
  assert.equal(clock.timers.size, 0);
});

test("a buffering proxy: no event in two intervals, the page polls the snapshot", async () => {
  const { clock, feed, streams, deliveries, polls } = staged();
  feed.start();
  await clock.advance(1999);
  assert.equal(polls(), 0);
  await clock.advance(1);
  assert.equal(feed.mode, "poll");
  assert.equal(streams[0].closed, true);
  await clock.advance(3000);
  assert.equal(polls(), 4); // at once, then every interval
  assert.ok(deliveries.every((d) => d.via === "poll"));
  // Later the stream is tried again; when it gets through, polling stops.
  await clock.advance(6999);
  assert.equal(streams.length, 1);
  await clock.advance(1); // retryStreamMs after the fallback
  assert.equal(streams.length, 2);
  streams[1].send({ back: true });
  const before = polls();
  await clock.advance(1500);
  assert.equal(polls(), before);
  assert.equal(feed.mode, "stream");
  assert.equal(deliveries.at(-1).snapshot.back, true);
  feed.stop();
});

test("a refused stream (closed by the browser): the poll says why, once per interval", async () => {
  const refused = Object.assign(new Error("Invalid session."), { status: 401 });
  const { clock, feed, streams, errors, polls } = staged({ poll: async () => Promise.reject(refused) });
  feed.start();
  streams[0].fail(2);
  await clock.advance(0);
  assert.equal(polls(), 1);
  assert.deepEqual(errors, [refused]);
  feed.stop(); // as the page does on a 401
  await clock.advance(60000);
  assert.equal(polls(), 1);
  assert.equal(clock.timers.size, 0);
});

test("a stream reconnecting by itself is left to it while events still come in time", async () => {
  const { clock, feed, streams, polls } = staged();
  feed.start();
  streams[0].fail(0); // CONNECTING: the browser retries
  await clock.advance(1000);
  streams[0].send({ again: true });
  await clock.advance(1500);
  assert.equal(polls(), 0);
  assert.equal(streams.length, 1);
  feed.stop();
});

test("a paused page parses nothing: a delivery is read only when shown", async () => {
  const clock = new Clock();
  const stream = new FakeStream();
  const kept = [];
  const feed = new Feed({
    openStream: () => stream,
    poll: async () => ({}),
    silenceMs: () => 2000,
    pollMs: () => 1000,
    onDelivery: (delivery) => kept.push(delivery),
    onError: () => {},
    now: () => clock.now,
    timers: clock,
  });
  feed.start();
  stream.listeners.snapshot[0]({ data: "{not json" });
  assert.equal(kept.length, 1);
  assert.throws(() => kept[0].read(), SyntaxError);
  feed.stop();
});

test("PostgreSQL unavailable for a tick: the stream says so and stays; a snapshot clears it", async () => {
  const { clock, feed, streams, errors, deliveries, polls } = staged();
  feed.start();
  await clock.advance(1000);
  streams[0].emit("unavailable", JSON.stringify({ error: "PostgreSQL is unavailable: connection refused" }));
  assert.equal(errors.length, 1);
  assert.equal(errors[0].status, 503);
  assert.equal(errors[0].message, "PostgreSQL is unavailable: connection refused");
  await clock.advance(1000);
  streams[0].send({ back: true });
  await clock.advance(1500);
  assert.equal(polls(), 0); // events kept coming: no fallback
  assert.equal(deliveries.length, 1);
  feed.stop();
});

test("the agent ends the stream: a poll says why (the session is over, or the agent is gone)", async () => {
  const refused = Object.assign(new Error("Invalid session."), { status: 401 });
  const { clock, feed, streams, errors, polls } = staged({ poll: async () => Promise.reject(refused) });
  feed.start();
  streams[0].emit("end", JSON.stringify({ error: "Invalid session." }));
  await clock.advance(0);
  assert.equal(streams[0].closed, true);
  assert.equal(polls(), 1);
  assert.deepEqual(errors, [refused]);
  feed.stop(); // as the page does on a 401
  await clock.advance(60000);
  assert.equal(polls(), 1);
  assert.equal(clock.timers.size, 0);
});

test("an agent sampling every 5 s: its gap between events sets how long silence may last", async () => {
  const { clock, feed, streams, polls } = staged();
  feed.start();
  streams[0].send({ first: true });
  await clock.advance(1900);
  streams[0].send({ second: true }); // a gap of 1.9 s: silence up to 3.8 s
  for (let i = 0; i < 3; i += 1) {
    await clock.advance(3700);
    streams[0].send({ later: i });
  }
  assert.equal(polls(), 0);
  await clock.advance(7400); // the last gap was 3.7 s: two of them pass without an event
  assert.equal(polls(), 1);
  feed.stop();
});

test("which snapshots the page shows: one per chosen interval, counted between arrivals", () => {
  // The agent samples every second; the page is set to 2 s: every other event, on arrival.
  const arrivals = [0, 1010, 1990, 3005, 3980, 5020];
  let last = -Infinity;
  const shown = arrivals.filter((at) => isDue(at, last, 2000) && (last = at) !== null);
  assert.deepEqual(shown, [0, 1990, 3980]);
  // Set to 1 s, on an agent at 1 s with jitter: every event, none left waiting for the next.
  last = -Infinity;
  assert.deepEqual(arrivals.filter((at) => isDue(at, last, 1000) && (last = at) !== null), arrivals);
});
