"""The host's load, CPU and memory, for the overview: cheap reads of /proc through psutil."""

from __future__ import annotations

import os

import psutil

from pgwarden.models import HostFigures


class HostReader:
    """CPU use is measured between two readings: the first one only starts the window."""

    def __init__(self) -> None:
        psutil.cpu_percent(interval=None)

    def read(self) -> HostFigures:
        memory = psutil.virtual_memory()
        return HostFigures(
            load_average=os.getloadavg(),
            cpu_count=os.cpu_count(),
            cpu_pct=psutil.cpu_percent(interval=None),
            memory_total=memory.total,
            memory_available=memory.available,
            memory_pct=memory.percent,
        )
