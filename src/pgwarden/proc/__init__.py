"""Per-process figures from /proc, in four parts: `readings` (the records and the file
formats, pure), `reader` (the I/O: descriptors kept open), `rates` (the maths, pure) and
`history` (the rate bases kept per process, pure). The names most callers use are here.
"""

from pgwarden.proc.history import ProcessHistory
from pgwarden.proc.rates import BASE_SPACING, MAX_BASES, MAX_WINDOW, MIN_WINDOW, figures
from pgwarden.proc.reader import ProcReader, child_pids, clock, descriptor_budget, read_process
from pgwarden.proc.readings import (
    CLOCK_TICKS,
    PAGE_SIZE,
    TOTAL_MEMORY,
    UNREADABLE,
    ProcFigures,
    ProcReading,
    parse_io,
    parse_stat,
    postmaster_mismatch,
)

__all__ = [
    "BASE_SPACING",
    "CLOCK_TICKS",
    "MAX_BASES",
    "MAX_WINDOW",
    "MIN_WINDOW",
    "PAGE_SIZE",
    "TOTAL_MEMORY",
    "UNREADABLE",
    "ProcFigures",
    "ProcReader",
    "ProcReading",
    "ProcessHistory",
    "child_pids",
    "clock",
    "descriptor_budget",
    "figures",
    "parse_io",
    "parse_stat",
    "postmaster_mismatch",
    "read_process",
]
