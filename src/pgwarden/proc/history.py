"""Each process's earlier readings, kept as the bases of its rates; pure."""

from __future__ import annotations

from collections.abc import Container

from pgwarden.proc.rates import BASE_SPACING, MAX_BASES, base_among, figures
from pgwarden.proc.readings import ProcFigures, ProcReading


class ProcessHistory:
    """Earlier readings of each process, kept as rate bases; not thread-safe by design.

    Bases are kept at least BASE_SPACING apart, so a burst of polls still measures rates
    over half a second or more, while a poll every two seconds measures over those two.
    """

    def __init__(self) -> None:
        self._bases: dict[tuple[int, int], list[ProcReading]] = {}
        # Pids of the last observe() with a single reading: a follow-up read gives them rates.
        self.unbased: list[int] = []

    def __len__(self) -> int:
        return len(self._bases)

    def base_for(self, current: ProcReading) -> ProcReading | None:
        """The newest base at least BASE_SPACING old, else the oldest one MIN_WINDOW old."""
        bases = self._bases.get((current.pid, current.start_ticks))
        return base_among(bases, current.taken_at) if bases else None

    def remember(self, reading: ProcReading) -> None:
        bases = self._bases.setdefault((reading.pid, reading.start_ticks), [])
        if not bases or reading.taken_at - bases[-1].taken_at >= BASE_SPACING:
            bases.append(reading)
            del bases[:-MAX_BASES]

    def observe(
        self,
        readings: dict[int, ProcReading],
        *,
        complete: bool,
        wanted: Container[int] | None = None,
    ) -> dict[int, ProcFigures]:
        """Figures for these readings (only the `wanted` pids' if given); then remember them
        all, so a process wanted later has a base. `complete` forgets the unseen."""
        result = {}
        known = self._bases
        self.unbased = []
        for pid, reading in readings.items():  # base_for and remember, in one pass
            key = (pid, reading.start_ticks)
            bases = known.get(key)
            shown = wanted is None or pid in wanted
            if bases is None:
                known[key] = [reading]
                if shown:
                    result[pid] = figures(reading, None)
                    self.unbased.append(pid)
                continue
            if shown:
                result[pid] = figures(reading, base_among(bases, reading.taken_at))
            if reading.taken_at - bases[-1].taken_at >= BASE_SPACING:
                bases.append(reading)
                del bases[:-MAX_BASES]
            elif len(bases) < 2 and shown:
                self.unbased.append(pid)
        if complete and len(known) > len(readings):  # some process was not seen: forget it
            seen = {(pid, r.start_ticks) for pid, r in readings.items()}
            for stale in known.keys() - seen:
                del known[stale]
        return result
