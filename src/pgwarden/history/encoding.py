"""A block of ticks as one compact blob, and back; pure.

Each block carries its own dictionaries: every distinct string (query texts, states, wait
events, blocker lists, lock descriptions) and every session identity (pid, backend_start,
user, database, application, client, backend type, a prepared transaction's gid) is written
once per block; a session-sample is then a few small integers. Values are laid out column by
column, each session's samples side by side, so what does not change from one second to the
next is a run that zlib folds to almost nothing.
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections.abc import Sequence
from typing import Any

import orjson

from pgwarden.history.records import SampledLock, SessionSample, Tick

FORMAT = 1
# Rates are kept on a log scale, 16 steps per doubling: within 2.2% of the value read.
RATE_STEPS = 16
# zlib level 6: within 2% of level 9's size, in half its time.
LEVEL = 6
# A pending tick lives a minute at most: the fastest level will do.
PENDING_LEVEL = 1

Identity = tuple[int, int | None, int, int, int, int, int, int]


def _ms(seconds: float | None, base: int) -> int | None:
    return round(seconds * 1000) - base if seconds is not None else None


def _seconds(ms: int | None, base: int) -> float | None:
    return (ms + base) / 1000 if ms is not None else None


def quantize_rate(rate: float | None) -> int | None:
    if rate is None:
        return None
    return round(math.log2(1 + max(rate, 0.0)) * RATE_STEPS)


def restore_rate(step: int | None) -> float | None:
    if step is None:
        return None
    return round(2 ** (step / RATE_STEPS) - 1, 2)


def _scaled(value: float | None, scale: int) -> int | None:
    return round(value * scale) if value is not None else None


def _unscaled(value: int | None, scale: int) -> float | None:
    return value / scale if value is not None else None


class _Strings:
    """Distinct strings of a block, each once; index 0 stands for null."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.items: list[str | None] = [None]

    def __call__(self, text: str | None) -> int:
        if text is None:
            return 0
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.items)
            self.items.append(text)
        return found


def _lock_text(locks: Sequence[SampledLock], base: int) -> str | None:
    if not locks:
        return None
    return orjson.dumps(
        [
            [
                lk.target,
                lk.locktype,
                lk.mode,
                lk.granted,
                lk.database,
                lk.relation,
                lk.relation_name,
                lk.database_name,
                lk.local,
                lk.relation_note,
                _ms(lk.wait_start, base),
            ]
            for lk in locks
        ]
    ).decode()


def _locks_of(text: str | None, base: int) -> tuple[SampledLock, ...]:
    if text is None:
        return ()
    return tuple(
        SampledLock(
            target=item[0],
            locktype=item[1],
            mode=item[2],
            granted=item[3],
            database=item[4],
            relation=item[5],
            relation_name=item[6],
            database_name=item[7],
            local=item[8],
            relation_note=item[9],
            wait_start=_seconds(item[10], base),
        )
        for item in orjson.loads(text)
    )


def encode_block(ticks: Sequence[Tick], level: int = LEVEL) -> bytes:
    """Ticks in time order as one compressed blob."""
    if not ticks:
        raise ValueError("a block holds at least one tick")
    base = round(ticks[0].at * 1000)
    strings = _Strings()
    identities: dict[Identity, int] = {}
    samples: list[list[tuple[int, SessionSample]]] = []
    for index, tick in enumerate(ticks):
        for s in tick.sessions:
            identity: Identity = (
                s.pid,
                _ms(s.backend_start, base),
                strings(s.user),
                strings(s.database),
                strings(s.application),
                strings(s.client),
                strings(s.backend_type),
                strings(s.gid),
            )
            number = identities.get(identity)
            if number is None:
                number = identities[identity] = len(samples)
                samples.append([])
            samples[number].append((index, s))
    flat = [s for series in samples for _, s in series]
    steps = [
        index - previous
        for series in samples
        for (index, _), previous in zip(series, [-1] + [i for i, _ in series[:-1]], strict=True)
    ]
    columns: dict[str, list[Any]] = {
        "n": [len(series) for series in samples],
        "ti": steps,
        "st": [strings(s.state) for s in flat],
        "wt": [strings(s.wait_event_type) for s in flat],
        "we": [strings(s.wait_event) for s in flat],
        "q": [strings(s.query) for s in flat],
        "qs": [_ms(s.query_start, base) for s in flat],
        "xs": [_ms(s.xact_start, base) for s in flat],
        "lp": [s.leader_pid for s in flat],
        "bb": [
            strings(orjson.dumps(s.blocked_by).decode() if s.blocked_by is not None else None)
            for s in flat
        ],
        "cpu": [_scaled(s.cpu, 10) for s in flat],
        "mem": [_scaled(s.memory, 100) for s in flat],
        "rd": [quantize_rate(s.read_rate) for s in flat],
        "wr": [quantize_rate(s.write_rate) for s in flat],
        "io": [None if s.iowait is None else int(s.iowait) for s in flat],
        "lk": [strings(_lock_text(s.locks, base)) for s in flat],
    }
    payload = {
        "v": FORMAT,
        "base": base,
        "t": [round(t.at * 1000) - base for t in ticks],
        "s": strings.items,
        "id": list(identities),
        **columns,
    }
    return zlib.compress(orjson.dumps(payload), level)


def decode_block(blob: bytes, at: float | None = None) -> list[Tick]:
    """The ticks of a blob written by encode_block, sessions in their recorded order; given
    `at`, only the last tick at or before it (none if the block starts later)."""
    data = orjson.loads(zlib.decompress(blob))
    if data.get("v") != FORMAT:
        raise ValueError(f"unknown block format {data.get('v')!r}")
    base: int = data["base"]
    text: list[str | None] = data["s"]
    wanted = None
    if at is not None:
        times = [base + offset for offset in data["t"]]
        wanted = bisect.bisect_right(times, round(at * 1000)) - 1
        if wanted < 0:
            return []
    # Filled identity by identity: sessions come back in order of first appearance.
    per_tick: list[list[SessionSample]] = [[] for _ in data["t"]]
    row = 0
    for identity, count in zip(data["id"], data["n"], strict=True):
        pid, start, user, database, application, client, backend_type, gid = identity
        index = -1
        for _ in range(count):
            index += data["ti"][row]
            if wanted is not None and index != wanted:
                row += 1
                continue
            blocked = text[data["bb"][row]]
            per_tick[index].append(
                SessionSample(
                    pid=pid,
                    backend_start=_seconds(start, base),
                    user=text[user],
                    database=text[database],
                    application=text[application],
                    client=text[client],
                    backend_type=text[backend_type],
                    state=text[data["st"][row]],
                    wait_event_type=text[data["wt"][row]],
                    wait_event=text[data["we"][row]],
                    query=text[data["q"][row]],
                    query_start=_seconds(data["qs"][row], base),
                    xact_start=_seconds(data["xs"][row], base),
                    leader_pid=data["lp"][row],
                    blocked_by=tuple(orjson.loads(blocked)) if blocked is not None else None,
                    cpu=_unscaled(data["cpu"][row], 10),
                    memory=_unscaled(data["mem"][row], 100),
                    read_rate=restore_rate(data["rd"][row]),
                    write_rate=restore_rate(data["wr"][row]),
                    iowait=None if data["io"][row] is None else bool(data["io"][row]),
                    locks=_locks_of(text[data["lk"][row]], base),
                    gid=text[gid],
                )
            )
            row += 1
    if wanted is not None:
        return [Tick((base + data["t"][wanted]) / 1000, tuple(per_tick[wanted]))]
    return [
        Tick((base + offset) / 1000, tuple(sessions))
        for offset, sessions in zip(data["t"], per_tick, strict=True)
    ]
