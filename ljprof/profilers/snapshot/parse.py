"""Reading the walker's files (harness.lua says their format) into columns indexed by object id.

One list per column, not an object per heap object: a 50 MB heap has some
600,000 objects, and the diff must read two such files in well under 2 s.
A file cut by a kill is read up to its last complete line and marked cut; a
walk stopped by its budget says so in its end line (`partial`).
"""

from __future__ import annotations

import gc
import json
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import eq, itemgetter
from pathlib import Path

MAGIC = "ljprof-snapshot 2"
KINDS = {"t": "table", "s": "string", "f": "function", "u": "userdata", "c": "cdata", "T": "thread", "p": "proto"}


@dataclass
class Snapshot:
    """One walk. Index 0 of every column is the roots' placeholder; ids count from 1."""

    path: Path
    label: str
    t: float
    gc64: bool
    complete: bool  # the end line was read
    partial: str  # why the walk stopped early ('' when it did not)
    parent: list[int] = field(default_factory=lambda: [0])
    ident: list[str] = field(default_factory=lambda: [""])  # type letter and %p address: "t0x7f3a.."
    size: list[int] = field(default_factory=lambda: [0])
    label_of: list[str] = field(default_factory=lambda: [""])
    info: list[str] = field(default_factory=lambda: [""])

    @property
    def objects(self) -> int:
        return len(self.parent) - 1

    @property
    def state(self) -> str:
        if not self.complete:
            return "cut"
        return "partial" if self.partial else "complete"

    def kind(self, i: int) -> str:
        """Object i's type: "table", ..."""
        return KINDS.get(self.ident[i][:1], "?")

    def address(self, i: int) -> str:
        """Object i's %p ('-' for a prototype)."""
        return self.ident[i][1:]

    def census(self) -> dict[str, tuple[int, int]]:
        """type -> (objects, bytes), as OpenResty's lj-gc-objs counts them."""
        letters = list(map(itemgetter(slice(0, 1)), self.ident[1:]))
        count = Counter(letters)
        sizes = self.size[1:]
        size = {k: sum(compress(sizes, map(eq, letters, repeat(k)))) for k in count}  # a pass in C per type
        return {KINDS.get(k, "?"): (count[k], size[k]) for k in sorted(count, key=lambda k: -size[k])}


class SnapshotError(ValueError):
    """Not a snapshot file."""


def read_snapshot(path: Path) -> Snapshot:
    """A snapshot file -> columns; raises SnapshotError when it is not one (empty, another format)."""
    with no_gc():
        return _read(path)


@contextmanager
def no_gc() -> Iterator[None]:
    """Python's cyclic GC off while building a million objects that have no cycles: it would walk them all
    again and again as they grow (a third of the time of reading and diffing two 50 MB snapshots)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _read(path: Path) -> Snapshot:
    with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        text = f.read()
    if not text.startswith(MAGIC + "\t"):
        version = f" ({text[:text.find(chr(9))]!r}: record it again)" if text.startswith("ljprof-snapshot ") else ""
        raise SnapshotError(f"{path}: not a heap snapshot of ljprof (it does not start with {MAGIC!r}){version}")
    lines = text.split("\n")
    # The last element is '' after a final newline, else an unfinished line cut by a kill.
    lines.pop()
    head = lines[0].split("\t")
    snap = Snapshot(path, head[1] if len(head) > 1 else "?", _float(head, 2), head[-1] == "gc64 1",
                    complete=False, partial="")
    objects = [line for line in lines if line[:1] != "-"]  # the edges are read_edges' (the graph's)
    if len(objects) > 1 and objects[-1].startswith("end\t"):
        cols = objects.pop().split("\t")
        snap.complete = True
        if len(cols) > 4 and cols[4].startswith("partial: "):
            snap.partial = cols[4][len("partial: "):]
    if not _columns(snap, objects):
        _lines(snap, objects)
    return snap


def _columns(snap: Snapshot, objects: list[str]) -> bool:
    """All object lines at once, as one split by tab (a tenth of a loop's time); False if one is damaged.

    The header's place is taken by the placeholder row 0, so each column is one slice."""
    objects[0] = "0\t0\t\t0\t\t"
    cols = "\t".join(objects).split("\t")
    n = len(cols) // 6 - 1
    if len(cols) != (n + 1) * 6 or (n and (cols[6] != "1" or cols[-6] != str(n))):
        return False
    try:
        parent = json.loads("[" + ",".join(cols[1::6]) + "]")  # ints parsed in C: twice as fast as int()
        size = json.loads("[" + ",".join(cols[3::6]) + "]")
    except ValueError:
        return False
    snap.parent, snap.size, snap.ident, snap.label_of, snap.info = parent, size, cols[2::6], cols[4::6], cols[5::6]
    return True


def _lines(snap: Snapshot, objects: list[str]) -> None:
    """Line by line, up to the first damaged one (a line cut or garbled: keep what came before)."""
    parent, ident, size, label, info = snap.parent, snap.ident, snap.size, snap.label_of, snap.info
    for line in objects[1:]:
        cols = line.split("\t")
        if len(cols) != 6 or cols[0] != str(len(parent)):
            snap.complete = False
            break
        try:
            parent.append(int(cols[1]))
            size.append(int(cols[3]))
        except ValueError:
            del parent[len(ident):], size[len(ident):]
            snap.complete = False
            break
        ident.append(cols[2])
        label.append(cols[4])
        info.append(cols[5])


Edge = tuple[int, str, bool]  # (to, label, weak)


class Edges:
    """Every edge of a snapshot, by the object it leaves, found when asked (the object graph asks for some
    dozens of a million objects). The walk is breadth-first and writes an object's other edges ("-" lines)
    right before its own line, so: its first-found children are the ids whose parent it is (a run of ids:
    parents never decrease), the rest the "-" lines between its line and the one before."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        with open(snap.path, encoding="utf-8", errors="replace", newline="\n") as f:
            self.lines = f.read().split("\n")
        self.lines.pop()  # '' or an unfinished line
        self.at = [k for k, line in enumerate(self.lines) if line[:1] != "-"]  # object i's line: at[i]
        self.memo: dict[int, list[Edge]] = {}

    def get(self, i: int) -> list[Edge]:
        if i not in self.memo:
            self.memo[i] = self._find(i)
        return self.memo[i]

    def _find(self, i: int) -> list[Edge]:
        parent, objects = self.snap.parent, self.snap.objects
        if i > objects:
            return []  # queued, never walked (a partial or cut snapshot)
        first = bisect_left(parent, i, 1)
        out: list[Edge] = [(j, self.snap.label_of[j], False) for j in range(first, bisect_right(parent, i, first))]
        # the roots' edges and object 1's share the lines before object 1's
        lo, hi = self.at[max(i - 1, 0)], self.at[max(i, 1)] if len(self.at) > 1 else len(self.lines)
        from_i = str(i)
        for line in self.lines[lo + 1:hi]:
            cols = line.split("\t")
            if len(cols) >= 4 and cols[1] == from_i and cols[2].isdigit() and int(cols[2]) <= objects:
                out.append((int(cols[2]), cols[3], len(cols) > 4))  # not '?' (weak, not found) nor unwalked
        return out


def read_edges(snap: Snapshot) -> Edges:
    """The object graph's edges of a snapshot (its file is read again, whole)."""
    return Edges(snap)


def _float(cols: list[str], i: int) -> float:
    try:
        return float(cols[i])
    except (IndexError, ValueError):
        return 0.0
