// Where the page's snapshots come from: the agent's stream (one `snapshot` event per sampling
// interval), or polling GET /activity/snapshot where the stream does not get through (a proxy
// that buffers it, or refuses it). No DOM: the EventSource, the poll and the timers are passed
// in, so the same code runs under `node --test` with stand-ins.
//
// A delivery is {read(), arrived, via}: `read()` parses on demand, so a page that is paused
// keeps only the latest event's text and parses nothing it will not show.

// Events and polls come with some jitter: a snapshot this much early still counts as due.
export const JITTER_MS = 250;

// The page shows a snapshot once the interval chosen in the toolbar has passed since the one it
// showed last, counted between their arrivals (not between renders, which lag the arrivals).
export function isDue(arrived, lastShownArrival, intervalMs) {
  return arrived - lastShownArrival >= intervalMs - JITTER_MS;
}

// A failure the stream reported: `status` as the same failure of a request would have.
export class FeedError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function messageOf(data, fallback) {
  try {
    const said = JSON.parse(data);
    return said && typeof said.error === "string" ? said.error : fallback;
  } catch {
    return fallback;
  }
}

// The value of EventSource.CLOSED: the browser gave up on the stream.
const CLOSED = 2;

export class Feed {
  // openStream(): a new EventSource-like object; poll(): a promise of a snapshot;
  // silenceMs(gapMs): how long without an event before polling (two intervals; gapMs is the
  // last gap seen between events, or null); pollMs(): the poll period; onDelivery(delivery);
  // onError(error): a failed poll, or PostgreSQL unavailable as the stream said (status 503).
  constructor({ openStream, poll, silenceMs, pollMs, onDelivery, onError, now, timers, retryStreamMs = 60000 }) {
    Object.assign(this, { openStream, poll, silenceMs, pollMs, onDelivery, onError, now, timers, retryStreamMs });
    this.source = null;
    this.polling = false;
    this.running = false;
    this.watchdog = null;
    this.pollTimer = null;
    this.retryTimer = null;
    this.inFlight = false;
    this.mode = "stopped"; // "stream", "poll"
    this.lastHeard = null;
    this.gapMs = null; // between the last two events: the agent's sampling interval
  }

  start() {
    this.stop();
    this.running = true;
    this.mode = "stream";
    this.connect();
  }

  stop() {
    this.running = false;
    this.mode = "stopped";
    this.closeStream();
    this.polling = false;
    for (const name of ["pollTimer", "retryTimer"]) {
      if (this[name] !== null) this.timers.clearTimeout(this[name]);
      this[name] = null;
    }
  }

  // Ask for a snapshot now (after an action): a poll, whatever the mode.
  refreshNow() {
    if (!this.running) return;
    this.pollOnce();
  }

  connect() {
    this.closeStream();
    this.lastHeard = null;
    const source = this.openStream();
    this.source = source;
    source.addEventListener("snapshot", (event) => {
      if (source !== this.source) return;
      const arrived = this.now();
      const data = event.data;
      this.heard();
      if (this.polling) this.stopPolling(); // the stream gets through (again)
      this.mode = "stream";
      this.onDelivery({ read: () => JSON.parse(data), arrived, via: "stream" });
    });
    // No snapshot this interval (PostgreSQL is unavailable): the stream itself is fine.
    source.addEventListener("unavailable", (event) => {
      if (source !== this.source) return;
      this.heard();
      this.onError(new FeedError(503, messageOf(event.data, "PostgreSQL is unavailable.")));
    });
    // The agent ends the stream (the session is over, or the agent is going away): a poll
    // says which, with a 401 or no answer at all.
    source.addEventListener("end", () => {
      if (source !== this.source) return;
      this.fallBack();
    });
    source.addEventListener("error", () => {
      if (source !== this.source) return;
      // CONNECTING: the browser reconnects by itself (the watchdog still runs). CLOSED: it
      // gave up (a refused session, an answer that is not a stream): the poll says why.
      if (source.readyState === CLOSED) this.fallBack();
    });
    this.armWatchdog();
  }

  // An event came: the stream gets through. The gap between events is the agent's interval.
  heard() {
    const at = this.now();
    if (this.lastHeard !== null) this.gapMs = at - this.lastHeard;
    this.lastHeard = at;
    this.armWatchdog();
  }

  armWatchdog() {
    if (this.watchdog !== null) this.timers.clearTimeout(this.watchdog);
    this.watchdog = this.timers.setTimeout(() => {
      this.watchdog = null;
      this.fallBack();
    }, this.silenceMs(this.gapMs));
  }

  closeStream() {
    if (this.watchdog !== null) this.timers.clearTimeout(this.watchdog);
    this.watchdog = null;
    if (this.source) this.source.close();
    this.source = null;
  }

  // The stream is silent or refused: poll, and try the stream again a while later.
  fallBack() {
    if (!this.running) return;
    this.closeStream();
    this.mode = "poll";
    if (!this.polling) {
      this.polling = true;
      this.pollOnce();
    }
    if (this.retryTimer === null) {
      this.retryTimer = this.timers.setTimeout(() => {
        this.retryTimer = null;
        if (this.running && this.polling) this.connect();
      }, this.retryStreamMs);
    }
  }

  stopPolling() {
    this.polling = false;
    if (this.pollTimer !== null) this.timers.clearTimeout(this.pollTimer);
    this.pollTimer = null;
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  async pollOnce() {
    if (this.inFlight) return;
    this.inFlight = true;
    if (this.pollTimer !== null) this.timers.clearTimeout(this.pollTimer);
    this.pollTimer = null;
    try {
      const snapshot = await this.poll();
      if (this.running) this.onDelivery({ read: () => snapshot, arrived: this.now(), via: "poll" });
    } catch (error) {
      if (this.running) this.onError(error);
    } finally {
      this.inFlight = false;
      if (this.running && this.polling) {
        this.pollTimer = this.timers.setTimeout(() => {
          this.pollTimer = null;
          this.pollOnce();
        }, this.pollMs());
      }
    }
  }
}
