"""Rates of a process from two of its readings, or over its lifetime from one; pure."""

from __future__ import annotations

from pgwarden.proc.readings import CLOCK_TICKS, PAGE_SIZE, TOTAL_MEMORY, ProcFigures, ProcReading

# Rates over a shorter window are mostly clock-tick noise (10 ms of CPU is 10 % of 100 ms).
MIN_WINDOW = 0.1
# A new reading becomes a rate base once the newest base is this old; bases this old are preferred.
BASE_SPACING = 0.5
MAX_BASES = 3
# A rate over a longer window says little about now: show none until a fresh reading.
MAX_WINDOW = 300.0


def figures(
    current: ProcReading,
    base: ProcReading | None,
    *,
    clock_ticks: int = CLOCK_TICKS,
    page_size: int = PAGE_SIZE,
    total_memory: int = TOTAL_MEMORY,
) -> ProcFigures:
    """Figures of `current`: rates against `base`, or over its lifetime without one (as ps)."""
    memory = round(current.rss_pages * page_size * 100 / total_memory, 2)
    if base is not None and current.taken_at - base.taken_at >= MIN_WINDOW:
        window = current.taken_at - base.taken_at
        cpu_ticks = max(current.cpu_ticks - base.cpu_ticks, 0)
        read = _delta(current.read_bytes, base.read_bytes)
        write = _delta(current.write_bytes, base.write_bytes)
    else:
        # Counters start at zero when the process is forked: all it did, over its age.
        window = current.taken_at - current.start_ticks / clock_ticks
        cpu_ticks, read, write = current.cpu_ticks, current.read_bytes, current.write_bytes
    if window <= 0:  # born within the last clock tick: nothing measurable yet
        return ProcFigures(
            0.0,
            memory,
            None if read is None else 0.0,
            None if write is None else 0.0,
            current.state == "D",
        )
    return ProcFigures(
        round(cpu_ticks * 100 / clock_ticks / window, 1),
        memory,
        None if read is None else read / window,
        None if write is None else write / window,
        current.state == "D",
    )


def _delta(now: int | None, then: int | None) -> int | None:
    if now is None or then is None:
        return None
    return max(now - then, 0)


def base_among(bases: list[ProcReading], now: float) -> ProcReading | None:
    """The newest of these bases at least BASE_SPACING old, else the oldest MIN_WINDOW old."""
    younger = None  # the oldest base younger than BASE_SPACING
    for base in reversed(bases):
        age = now - base.taken_at
        if age >= BASE_SPACING:
            if age <= MAX_WINDOW:
                return base
            break  # it and all older ones are too old
        younger = base
    if younger is not None and now - younger.taken_at >= MIN_WINDOW:
        return younger
    return None
