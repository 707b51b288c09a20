"""Reading /proc and the rate maths, with real processes and staged readings."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import time
from collections.abc import Callable

import psutil
import pytest

from pgwarden import proc
from pgwarden.proc import (
    ProcessHistory,
    ProcReader,
    ProcReading,
    figures,
    parse_io,
    parse_stat,
)
from pgwarden.proc import reader as proc_reader
from pgwarden.proc.readings import CLOCK_TICKS

STAT = (
    b"4242 (postgres: app (x) ) S 4200 4242 4242 0 -1 4194560 3 0 0 0 "
    b"150 50 0 0 20 0 1 0 987654 229130240 1500 18446744073709551615"
)
IO = (
    b"rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 8192\nwrite_bytes: 4096\n"
    b"cancelled_write_bytes: 0\n"
)


def reading(
    at: float,
    cpu: int = 0,
    read: int | None = 0,
    write: int | None = 0,
    start: int = 100,
    state: str = "S",
    pid: int = 7,
) -> ProcReading:
    return ProcReading(pid, start, 1, state, cpu, 256, read, write, at)


def test_parse_stat_survives_parentheses_in_the_name() -> None:
    assert parse_stat(STAT) == ("S", 4200, 200, 987654, 1500)


def test_parse_io_takes_storage_bytes() -> None:
    assert parse_io(IO) == (8192, 4096)


def test_read_process_reads_a_live_process() -> None:
    mine = proc.read_process(os.getpid())
    assert mine is not None
    assert mine.parent_pid == os.getppid()
    assert mine.state in "RS"
    assert mine.rss_pages > 0
    assert mine.read_bytes is not None


def test_read_process_of_a_finished_process_is_none() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert proc.read_process(pid) is None
    assert proc.ProcReader(budget=0).read([pid, os.getpid()]).keys() == {os.getpid()}


def test_parse_io_reads_an_unfamiliar_layout_by_name() -> None:
    shuffled = b"write_bytes: 4096\nread_bytes: 8192\nrchar: 1\n"
    assert parse_io(shuffled) == (8192, 4096)


def _burn_cpu(seconds: float) -> None:
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass


def test_kept_files_give_fresh_figures_on_each_read() -> None:
    reader = ProcReader(budget=10)
    try:
        first = reader.read([os.getpid()])[os.getpid()]
        _burn_cpu(0.05)
        second = reader.read([os.getpid()])[os.getpid()]
        assert len(reader) == 1
    finally:
        reader.close()
    assert second.cpu_ticks > first.cpu_ticks
    assert second.taken_at > first.taken_at
    assert second.start_ticks == first.start_ticks


def test_a_process_that_exits_is_no_longer_read_and_its_files_are_closed() -> None:
    child = subprocess.Popen(["sleep", "30"])
    reader = ProcReader(budget=10)
    try:
        assert reader.read([child.pid, os.getpid()]).keys() == {child.pid, os.getpid()}
        child.kill()
        child.wait()
        assert reader.read([child.pid, os.getpid()]).keys() == {os.getpid()}
        assert len(reader) == 1
    finally:
        reader.close()
    assert len(reader) == 0


def test_a_process_that_did_not_change_keeps_its_figures_with_a_new_time() -> None:
    child = subprocess.Popen(["sleep", "30"])
    reader = ProcReader(budget=10)
    try:
        wait_until_sleeping = time.monotonic() + 5
        first = reader.read([child.pid])[child.pid]
        while first.state != "S" and time.monotonic() < wait_until_sleeping:
            time.sleep(0.01)
            first = reader.read([child.pid])[child.pid]
        second = reader.read([child.pid])[child.pid]
    finally:
        reader.close()
        child.kill()
        child.wait()
    assert second[:-1] == first[:-1]
    assert second.taken_at > first.taken_at


def test_children_are_all_listed_beyond_one_page() -> None:
    # 800 pids take more than the 4096 bytes of one read of the children file.
    parent = subprocess.Popen(
        ["sh", "-c", "i=0; while [ $i -lt 800 ]; do sleep 60 & i=$((i+1)); done; wait"],
        start_new_session=True,
    )
    try:
        found = wait_for(lambda: len(proc.child_pids(parent.pid) or []) >= 800)
    finally:
        os.killpg(parent.pid, signal.SIGTERM)  # the group of the shell we started
        parent.wait()
    assert found


def wait_for(probe: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not probe():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_single_threaded_process_that_runs_is_read_afresh() -> None:
    busy = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    reader = ProcReader(budget=10)
    try:
        first = reader.read([busy.pid])[busy.pid]
        assert wait_for(lambda: reader.read([busy.pid])[busy.pid].cpu_ticks > first.cpu_ticks)
    finally:
        reader.close()
        busy.kill()
        busy.wait()


def test_retain_closes_the_files_of_the_others() -> None:
    reader = ProcReader(budget=10)
    try:
        reader.read([os.getpid(), os.getppid()])
        assert len(reader) == 2
        reader.retain([os.getpid()])
        assert len(reader) == 1
    finally:
        reader.close()


def test_over_the_descriptor_budget_processes_are_still_read() -> None:
    reader = ProcReader(budget=1)
    try:
        readings = reader.read([os.getpid(), os.getppid()])
    finally:
        reader.close()
    parent = proc.read_process(os.getppid())
    assert parent is not None
    assert readings.keys() == {os.getpid(), os.getppid()}
    assert readings[os.getppid()].parent_pid == parent.parent_pid


def test_unreadable_io_gives_null_rates_not_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    real = proc_reader._read

    def no_io(path: str) -> bytes:
        if path.endswith("/io"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(proc_reader, "_read", no_io)
    first = proc_reader.read_process(os.getpid())
    assert first is not None
    assert first.read_bytes is None
    later = ProcReading(
        first.pid, first.start_ticks, 1, "S", first.cpu_ticks, 10, None, None, first.taken_at + 1
    )
    shown = figures(later, first)
    assert shown.read_rate is None and shown.write_rate is None
    assert shown.cpu == 0.0


def test_rates_over_the_window() -> None:
    base = reading(10.0, cpu=100, read=0, write=0)
    now = reading(12.0, cpu=300, read=20 * 1024**2, write=4096, state="D")
    shown = figures(now, base, clock_ticks=100, page_size=4096, total_memory=4096 * 1024)
    assert shown.cpu == 100.0  # 200 ticks over 2 s at 100 ticks/s: one full core
    assert shown.read_rate == 10 * 1024**2
    assert shown.write_rate == 2048
    assert shown.memory == 25.0
    assert shown.iowait is True


def test_a_first_reading_rates_over_the_lifetime_so_far() -> None:
    # Started 1 s after boot (100 ticks at 100 Hz), read at 11 s: 10 s old.
    first = reading(11.0, cpu=500, read=10 * 1024**2, write=0, start=100)
    shown = figures(first, None, clock_ticks=100, page_size=4096, total_memory=4096 * 1024)
    assert shown.cpu == 50.0  # 5 s of CPU over 10 s, as ps shows %CPU
    assert shown.read_rate == 1024**2
    assert shown.write_rate == 0.0
    assert shown.memory == 25.0


def test_a_too_short_window_falls_back_to_the_lifetime() -> None:
    now = reading(11.0, cpu=500, start=100)
    base = reading(10.95, cpu=499, start=100)
    assert figures(now, base, clock_ticks=100).cpu == 50.0


def test_a_process_born_in_this_clock_tick_shows_zero_not_a_division() -> None:
    newborn = reading(1.0, cpu=0, read=0, write=None, start=100)
    shown = figures(newborn, None, clock_ticks=100)
    assert (shown.cpu, shown.read_rate, shown.write_rate) == (0.0, 0.0, None)


def test_unreadable_io_has_no_lifetime_rate_either() -> None:
    shown = figures(reading(11.0, cpu=100, read=None, write=None), None, clock_ticks=100)
    assert shown.cpu == 10.0
    assert (shown.read_rate, shown.write_rate) == (None, None)


def test_lifetime_cpu_of_a_real_process_agrees_with_ps() -> None:
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # burn some CPU, so the figure is not a bare 0
        pass
    mine = proc.read_process(os.getpid())
    ps = subprocess.run(
        ["ps", "-o", "%cpu=", "-p", str(os.getpid())], capture_output=True, text=True, check=True
    )
    assert mine is not None
    shown = figures(mine, None)
    assert shown.cpu is not None
    # Read a moment apart, over the same lifetime: the same figure, give or take rounding.
    assert abs(shown.cpu - float(ps.stdout)) <= 2.0, (shown.cpu, ps.stdout)


def test_history_measures_over_half_a_second_or_more() -> None:
    history = ProcessHistory()
    history.observe({7: reading(0.0)}, complete=True)
    for step in range(1, 10):  # a burst: a poll every 100 ms
        at = step * 0.1
        base = history.base_for(reading(at))
        assert base is not None
        assert at - base.taken_at >= min(at, proc.BASE_SPACING) - 1e-9
        history.observe({7: reading(at)}, complete=True)


def test_history_uses_the_previous_poll_two_seconds_ago() -> None:
    history = ProcessHistory()
    for at in (0.0, 2.0, 4.0):
        history.observe({7: reading(at)}, complete=True)
    base = history.base_for(reading(6.0))
    assert base is not None and base.taken_at == 4.0


def test_a_reused_pid_is_a_new_process() -> None:
    history = ProcessHistory()
    history.observe({7: reading(0.0, start=100)}, complete=True)
    assert history.base_for(reading(2.0, start=100)) is not None
    assert history.base_for(reading(2.0, start=555)) is None


def test_stale_processes_are_forgotten_only_by_a_complete_pass() -> None:
    history = ProcessHistory()
    history.observe({7: reading(0.0), 8: reading(0.0, pid=8)}, complete=True)
    history.observe({7: reading(1.0)}, complete=False)
    assert len(history) == 2
    history.observe({7: reading(2.0)}, complete=True)
    assert len(history) == 1


def test_very_old_bases_give_no_rate() -> None:
    history = ProcessHistory()
    history.observe({7: reading(0.0)}, complete=True)
    assert history.base_for(reading(proc.MAX_WINDOW + 1)) is None


def test_new_processes_need_a_second_reading() -> None:
    history = ProcessHistory()
    history.observe({7: reading(0.0)}, complete=True)
    assert history.unbased == [7]
    history.observe({7: reading(0.2)}, complete=True)  # too soon to become a base
    assert history.unbased == [7]
    history.observe({7: reading(0.6)}, complete=False)
    assert history.unbased == []


def test_figures_only_for_the_wanted_but_every_reading_becomes_a_base() -> None:
    history = ProcessHistory()
    quiet, busy = reading(0.0, pid=8, cpu=1000), reading(0.0, cpu=1000)
    shown = history.observe({7: busy, 8: quiet}, complete=True, wanted={7})
    assert set(shown) == {7}
    assert history.unbased == [7]  # no follow-up read for one nobody looks at
    # A second later the quiet one starts work: its rate is over that second, not its life.
    shown = history.observe(
        {7: reading(1.0, cpu=1050), 8: reading(1.0, pid=8, cpu=1000 + CLOCK_TICKS)},
        complete=True,
        wanted={8},
    )
    assert set(shown) == {8}
    assert shown[8].cpu == 100.0  # a second of CPU in one second


def test_the_local_parent_is_the_postmaster_when_start_times_agree() -> None:
    own = reading(50.0, pid=900, start=4000)._replace(parent_pid=12)
    parent = reading(50.0, pid=12, start=1000)  # started 10 s after boot, at 100 Hz
    boot_at = 1_700_000_000.0
    check = functools.partial(
        proc.postmaster_mismatch, wall_now=boot_at + 50.0, boot_now=50.0, clock_ticks=100
    )
    assert check(900, own, parent, boot_at + 10.0) is None
    assert check(900, own, parent, boot_at + 11.5) is None  # within clock slew
    elsewhere = check(900, own, parent, boot_at + 40.0)
    assert elsewhere is not None and "another PID namespace" in elsewhere
    assert "-30 s" in elsewhere
    gone = check(900, None, None, boot_at + 10.0)
    assert gone is not None and "pid 900, is not a process here" in gone
    orphan = check(900, own, None, boot_at + 10.0)
    assert orphan is not None and "(pid 12) cannot be read" in orphan


def test_this_process_parent_start_time_matches_its_real_start() -> None:
    me = proc.read_process(os.getpid())
    parent = proc.read_process(os.getppid())
    assert me is not None and parent is not None
    started = psutil.Process(os.getppid()).create_time()
    reason = proc.postmaster_mismatch(
        os.getpid(), me, parent, started, wall_now=time.time(), boot_now=proc.clock()
    )
    assert reason is None
