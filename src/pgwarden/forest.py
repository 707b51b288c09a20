"""The blocking forest of one snapshot: who waits behind whom, every backend once; pure.

The wait graph has an edge from each lock waiter to each backend pg_blocking_pids() names
(a pid 0 stands for the prepared transactions holding a conflicting lock on what it waits
for). PostgreSQL reports queue order, so N waiters on one row give about N²/2 edges: every
step below is linear in the edges, but for `waiting_behind`, which ORs bit sets along them.

- Each waiter hangs under one parent: the first of its blockers that holds a conflicting
  granted lock on what it waits for, else the first of its blockers. Inside a deadlock the
  detector has not broken yet, the parent is taken inside the deadlock, so it shows as a
  cycle of parents; that cycle is cut once, at the member that has waited longest, which
  becomes a root with `"cycle": true` and `"waits_for"`: the id of the member it waits for.
- `waiting_behind` counts the distinct sessions that reach a node in the wait graph: all
  who wait on it directly or through others (a deadlock's members wait behind each other).
- Roots come in order of how long they have blocked: the longest wait among their direct
  waiters. Children come longest waiting first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson

from pgwarden import locks
from pgwarden.models import Backend, LockWait

NodeId = int | str
Node = dict[str, Any]


def _wait_seconds(wait: LockWait) -> float:
    if wait.lock is not None and wait.lock.wait_duration is not None:
        return wait.lock.wait_duration
    return wait.backend.duration


def _order(node_id: NodeId) -> tuple[bool, str, int]:
    """A total order over ids: pids by number, then prepared transactions by name."""
    if isinstance(node_id, int):
        return (False, "", node_id)
    return (True, node_id, 0)


class _Graph:
    """The wait graph over indices into the snapshot's backends."""

    def __init__(self, backends: Sequence[Backend]) -> None:
        self.backends = backends
        by_pid = {b.pid: i for i, b in enumerate(backends) if b.pid != 0}
        prepared = [i for i, b in enumerate(backends) if b.pid == 0]
        # Granted locks by target, each under the index pg_blocking_pids() names for it:
        # a parallel worker's lock under its leader.
        granted: dict[str, list[tuple[int, str]]] = {}
        for i, b in enumerate(backends):
            if b.leader_pid is not None and b.leader_pid != b.pid and b.leader_pid in by_pid:
                holder = by_pid[b.leader_pid]
            else:
                holder = i
            for lock in b.locks:
                if lock.granted:
                    granted.setdefault(lock.target, []).append((holder, lock.mode))
        self.waits: dict[int, LockWait] = {}
        self.seconds: dict[int, float] = {}  # how long each waiter has waited
        self.blockers: dict[int, list[int]] = {}  # waiter -> the backends it waits for
        waiters: defaultdict[int, list[int]] = defaultdict(list)
        # waiter -> the backends holding a granted lock that conflicts with what it waits for
        self.conflicting: dict[int, set[int]] = {}
        for wait in locks.lock_waits(backends):
            waiter = by_pid.get(wait.backend.pid)
            if waiter is None:
                continue
            wanted = wait.lock
            conflicting = (
                {
                    h
                    for h, mode in granted.get(wanted.target, ())
                    if locks.conflicts(mode, wanted.mode)
                }
                if wanted is not None
                else set()
            )
            # A pid gone since pg_blocking_pids() ran is skipped; a pid 0 is every prepared
            # transaction holding a conflicting lock.
            found = [by_pid[pid] for pid in wait.blocked_by if pid in by_pid]
            if 0 in wait.blocked_by:
                found.extend(p for p in prepared if p in conflicting)
            blockers = found  # pids come once (rows.backend_from_columns), and so do indices
            self.waits[waiter] = wait
            self.seconds[waiter] = _wait_seconds(wait)
            self.blockers[waiter] = blockers
            self.conflicting[waiter] = conflicting
            for blocker in blockers:
                waiters[blocker].append(waiter)
        self.waiters: dict[int, list[int]] = dict(waiters)  # backend -> those waiting for it
        self.nodes = sorted(set(self.waits) | set(self.waiters))


def _components(graph: _Graph) -> tuple[dict[int, int], list[list[int]]]:
    """Strongly connected components (Tarjan's, without recursion), in the order Tarjan
    finds them: a component comes after every component its members wait for."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    component_of: dict[int, int] = {}
    components: list[list[int]] = []
    for start in graph.nodes:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, next_edge = work.pop()
            if next_edge == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            edges = graph.blockers.get(node, [])
            for position in range(next_edge, len(edges)):
                target = edges[position]
                if target not in index:
                    work.append((node, position + 1))
                    work.append((target, 0))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                if low[node] == index[node]:
                    members = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component_of[member] = len(components)
                        members.append(member)
                        if member == node:
                            break
                    components.append(members)
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return component_of, components


def _behind(
    graph: _Graph, component_of: dict[int, int], components: list[list[int]]
) -> dict[int, int]:
    """For each node, how many distinct sessions wait on it, directly or through others."""
    bit = {node: 1 << position for position, node in enumerate(graph.nodes)}
    # Bits of everyone behind a component; a deadlock's members wait behind one another.
    behind = [0] * len(components)
    # Reversed, Tarjan's order puts every waiting component before what it waits for.
    for number in range(len(components) - 1, -1, -1):
        members = components[number]
        total = 0
        if len(members) > 1:
            for member in members:
                total |= bit[member]
        for member in members:
            for waiter in graph.waiters.get(member, ()):
                other = component_of[waiter]
                if other != number:
                    total |= bit[waiter] | behind[other]
        behind[number] = total
    return {node: (behind[component_of[node]] & ~bit[node]).bit_count() for node in graph.nodes}


def _parents(graph: _Graph, component_of: dict[int, int], deadlocked: set[int]) -> dict[int, int]:
    """Each waiter's one parent: a blocker holding a conflicting granted lock, else the
    first blocker; inside a deadlock, one inside the deadlock."""
    parents = {}
    for waiter, blockers in graph.blockers.items():
        component = component_of[waiter]
        if component in deadlocked:
            candidates = [b for b in blockers if component_of[b] == component]
        else:
            candidates = blockers
        if not candidates:
            continue
        conflicting = graph.conflicting[waiter]
        holder = next((b for b in candidates if b in conflicting), None)
        parents[waiter] = holder if holder is not None else candidates[0]
    return parents


def _cut_cycles(graph: _Graph, parents: dict[int, int]) -> dict[int, int]:
    """Cut each cycle of parents once, at its longest-waiting member; returns {root: the
    member it waits for}."""
    state: dict[int, int] = {}  # node -> the walk that first reached it
    cut: dict[int, int] = {}
    for walk, start in enumerate(graph.nodes):
        node: int | None = start
        path = []
        while node is not None and node not in state:
            state[node] = walk
            path.append(node)
            node = parents.get(node)
        if node is None or state[node] != walk:
            continue  # reached a root, or a part already walked
        cycle = path[path.index(node) :]
        root = min(
            cycle, key=lambda m: (-_wait_seconds(graph.waits[m]), _order(graph.backends[m].id))
        )
        cut[root] = parents.pop(root)
    return cut


def blocking_forest(backends: Sequence[Backend]) -> list[Node]:
    """The forest's roots, as JSON-ready nodes: {"id", "pid", "children", "waiting_behind",
    "blocking_for"}, and "cycle", "waits_for" on a root that cuts a deadlock."""
    graph = _Graph(backends)
    component_of, components = _components(graph)
    behind = _behind(graph, component_of, components)
    deadlocked = {number for number, members in enumerate(components) if len(members) > 1}
    parents = _parents(graph, component_of, deadlocked)
    cut = _cut_cycles(graph, parents)

    nodes: dict[int, Node] = {}
    for i in graph.nodes:
        backend = graph.backends[i]
        seconds = graph.seconds
        blocking_for = max((seconds[w] for w in graph.waiters.get(i, ())), default=None)
        node: Node = {
            "id": backend.id,
            "pid": backend.pid,
            "waiting_behind": behind[i],
            "blocking_for": round(max(blocking_for, 0.0), 2) if blocking_for is not None else None,
            "children": [],
        }
        if i in cut:
            node["cycle"] = True
            node["waits_for"] = graph.backends[cut[i]].id
        nodes[i] = node

    def longest_waiting_first(i: int) -> tuple[float, tuple[bool, str, int]]:
        return (-graph.seconds.get(i, 0.0), _order(nodes[i]["id"]))

    for child in sorted(parents, key=longest_waiting_first):
        nodes[parents[child]]["children"].append(nodes[child])

    def longest_blocking_first(i: int) -> tuple[bool, float, int, tuple[bool, str, int]]:
        node = nodes[i]
        blocking = node["blocking_for"]
        return (blocking is None, -(blocking or 0.0), -node["waiting_behind"], _order(node["id"]))

    return [
        nodes[i]
        for i in sorted((i for i in graph.nodes if i not in parents), key=longest_blocking_first)
    ]


def encode_forest(roots: list[Node]) -> bytes:
    """The forest as JSON, without recursion: a chain of waiters may nest deeper than a
    recursive encoder goes (orjson stops at 255 levels)."""
    out: list[bytes] = [b"["]
    # Each entry: the nodes of one children list still to write, and whether one was written.
    pending: list[tuple[list[Node], int]] = [(roots, 0)]
    while pending:
        siblings, position = pending.pop()
        if position == len(siblings):
            out.append(b"]}" if pending else b"]")
            continue
        pending.append((siblings, position + 1))
        if position:
            out.append(b",")
        node = siblings[position]
        head = {key: value for key, value in node.items() if key != "children"}
        out.append(orjson.dumps(head)[:-1] + b',"children":[')
        pending.append((node["children"], 0))
    return b"".join(out)
