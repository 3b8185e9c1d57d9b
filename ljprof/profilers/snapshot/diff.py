"""What stayed: objects alive in a later snapshot and not in an earlier one, grouped by the path that holds them.

Identity across snapshots is the type and address (parse.Snapshot.ident). The walk is breadth-first, so
each object's parent makes its shortest retaining path. A new object whose
parent is old (or a root), or new with more than MANY_KEYS new children (a
new collection: its elements are what it holds), is an *entry*: the new
objects below it (by parent) count with it. Entries are grouped by their holder's path and their own edge,
generalised: indices and keys other than strings become [*], a run of the same
edge (`.next.next.next`, a linked list) one `.next+`, and a holder with more
than MANY_KEYS different string keys of new entries has them as [*] too. So
10,000 entries of one table read as one line:

    local register in main chunk (@edge.lua) > upvalue sessions of register (@edge.lua:4) [*]  x 1,000
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import compress
from operator import not_

from ljprof.container import TARGET_DIR
from ljprof.profilers.snapshot.parse import Snapshot, no_gc

MANY_KEYS = 8
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Group:
    """New objects under one path pattern."""

    path: str
    entries: list[int] = field(default_factory=list)  # ids (in the later snapshot) of the entries
    objects: int = 0  # entries and the new objects below them
    bytes: int = 0
    members: list[int] = field(default_factory=list)  # every object counted, for the memprof join
    holders: Counter[int] = field(default_factory=Counter)  # the entries' parents

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def holder(self) -> int:
        """The object that holds most of the entries (0: a root)."""
        return self.holders.most_common(1)[0][0] if self.holders else 0


@dataclass
class Diff:
    earlier: Snapshot
    later: Snapshot
    groups: list[Group]
    new_objects: int
    new_bytes: int


def short_source(text: str) -> str:
    """'@/ljprof/target/app.lua:5' -> '@app.lua:5': the target's files by their name in its folder."""
    return text.replace("@" + TARGET_DIR + "/", "@")


def _name(label: str) -> str:
    """The name an edge gives its object: a field's key, a local's name; '' otherwise."""
    if label[:1] in ".^":
        return label[1:]
    if label[:1] == "$":
        return label[1:].split(" in ", 1)[0]
    return ""


def segment(snap: Snapshot, i: int, general: bool) -> str:
    """How object i's edge from its parent reads in a path; `general` turns indices into [*]."""
    label = snap.label_of[i]
    kind, rest = label[:1], label[1:]
    if kind == ".":
        return f".{rest}" if _NAME.match(rest) else f"[{rest!r}]"
    if kind == "[":
        return "[*]" if general else f"[{rest}]"
    if kind == "{":
        return " (a key)" if general else f" (key {rest})"
    if kind == "^":
        p = snap.parent[i]
        owner = _name(snap.label_of[p]) or "function"
        return f" > upvalue {rest} of {owner} ({short_source(snap.info[p])})"
    if kind == "$":
        name, _, where = rest.partition(" in ")
        return f"local {name} in {short_source(where)}"
    if kind == "*":
        n, _, where = rest.partition(" in ")
        return f"vararg {n} in {short_source(where)}"
    if kind == "R":
        return rest
    if kind == "#":
        return " > metatable"
    if kind == "&":
        return " > environment"
    if kind == "<":
        return " > constant"
    return label


class _Paths:
    """Path patterns of objects of one snapshot, memoised (a holder's pattern serves all its entries);
    with `general` False, each object's own path, with its indices."""

    def __init__(self, snap: Snapshot, general: bool = True) -> None:
        self.snap = snap
        self.general = general
        self.memo: dict[int, tuple[str, ...]] = {0: ()}

    def pattern(self, i: int) -> tuple[str, ...]:
        chain = []
        while i not in self.memo:
            chain.append(i)
            i = self.snap.parent[i]
        segs = self.memo[i]
        for j in reversed(chain):
            segs = _append(segs, segment(self.snap, j, general=self.general))
            self.memo[j] = segs
        return segs


def _append(segs: tuple[str, ...], seg: str) -> tuple[str, ...]:
    if segs and segs[-1] in (seg, seg + "+"):
        return (*segs[:-1], seg + "+")
    return (*segs, seg)


def path_text(segs: tuple[str, ...]) -> str:
    return "".join(segs).lstrip(" >").replace(")[", ") [") or "(a root)"


def diff(earlier: Snapshot, later: Snapshot) -> Diff:
    """The objects of `later` that `earlier` did not have, grouped by path pattern, biggest first."""
    with no_gc():
        return _diff(earlier, later)


def _diff(earlier: Snapshot, later: Snapshot) -> Diff:
    # Loops in C over every object (map, dict), in Python over the new ones only.
    old = set(earlier.ident)  # type and address: an address another type took since is new
    new = list(compress(range(len(later.ident)), map(not_, map(old.__contains__, later.ident))))
    parent, size = later.parent, later.size
    kids = Counter(parent[i] for i in new)  # new children of each object
    entry: dict[int, int] = {}  # a new object -> its entry
    group_of: dict[int, Group] = {}  # an entry -> its group
    paths = _Paths(later)
    by_key: dict[tuple[tuple[str, ...], str], Group] = {}
    for i in new:
        p = parent[i]
        e = entry.get(p, 0) if kids[p] <= MANY_KEYS else 0
        if not e:
            e = i
        entry[i] = e
        if e == i:
            key = (paths.pattern(p), segment(later, i, general=True))
            group = by_key.get(key)
            if group is None:
                group = by_key[key] = Group("")
            group.entries.append(i)
            group.holders[p] += 1
            group_of[i] = group
        else:
            group = group_of[e]
        group.objects += 1
        group.bytes += size[i]
        group.members.append(i)
    return Diff(earlier, later, _merge_keys(by_key), len(new), sum(size[i] for i in new))


def _merge_keys(by_key: dict[tuple[tuple[str, ...], str], Group]) -> list[Group]:
    """Name the groups; a holder with many string keys of new entries gets them as one [*] group."""
    fields = Counter(holder for holder, seg in by_key if seg.startswith((".", "['")))
    merged: dict[str, Group] = {}
    for (holder, seg), group in by_key.items():
        if fields[holder] > MANY_KEYS and seg.startswith((".", "['")):
            seg = "[*]"
        text = path_text(_append(holder, seg))
        into = merged.get(text)
        if into is None:
            group.path = text
            merged[text] = group
        else:
            into.entries += group.entries
            into.members += group.members
            into.objects += group.objects
            into.bytes += group.bytes
            into.holders.update(group.holders)
    return sorted(merged.values(), key=lambda g: (-g.bytes, -g.count, g.path))


def object_path(snap: Snapshot, i: int) -> str:
    """One object's own shortest path, with its indices (for the graph's root and the report)."""
    return path_text(_Paths(snap, general=False).pattern(i))


def find_object(snap: Snapshot, path: str) -> int:
    """The first object whose own path (object_path) is `path`, else 0; each path is built once,
    from its parent's."""
    paths = _Paths(snap, general=False)
    return next((i for i in range(1, snap.objects + 1) if path_text(paths.pattern(i)) == path), 0)
