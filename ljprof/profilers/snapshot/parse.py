"""Reading the walker's files (harness.lua says their format) into columns indexed by object id.

One list per column, not an object per heap object: a 50 MB heap has some
600,000 objects, and the diff must read two such files in well under 2 s.
A file cut by a kill is read up to its last complete line and marked cut; a
walk stopped by its budget says so in its end line (`partial`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MAGIC = "ljprof-snapshot 1"


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
    kind: list[str] = field(default_factory=lambda: [""])
    addr: list[str] = field(default_factory=lambda: [""])
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

    def census(self) -> dict[str, tuple[int, int]]:
        """type -> (objects, bytes), as OpenResty's lj-gc-objs counts them."""
        out: dict[str, list[int]] = {}
        for kind, size in zip(self.kind[1:], self.size[1:], strict=True):
            cell = out.setdefault(kind, [0, 0])
            cell[0] += 1
            cell[1] += size
        return {k: (v[0], v[1]) for k, v in sorted(out.items(), key=lambda kv: -kv[1][1])}


class SnapshotError(ValueError):
    """Not a snapshot file."""


def read_snapshot(path: Path) -> Snapshot:
    """A snapshot file -> columns; raises SnapshotError when it is not one (empty, another format)."""
    with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        text = f.read()
    if not text.startswith(MAGIC):
        raise SnapshotError(f"{path}: not a heap snapshot of ljprof (it does not start with {MAGIC!r})")
    lines = text.split("\n")
    # The last element is '' after a final newline, else an unfinished line cut by a kill.
    lines.pop()
    head = lines[0].split("\t")
    snap = Snapshot(path, head[1] if len(head) > 1 else "?", _float(head, 2), head[-1] == "gc64 1",
                    complete=False, partial="")
    parent, kind, addr, size, label, info = snap.parent, snap.kind, snap.addr, snap.size, snap.label_of, snap.info
    for line in lines[1:]:
        c = line[0]
        if c == "-":
            continue
        cols = line.split("\t")
        if c == "e" and cols[0] == "end":
            snap.complete = True
            if len(cols) > 4 and cols[4].startswith("partial: "):
                snap.partial = cols[4][len("partial: "):]
            break
        if len(cols) < 7 or int(cols[0]) != len(parent):
            break  # a damaged line: keep what came before
        parent.append(int(cols[1]))
        kind.append(cols[2])
        addr.append(cols[3])
        size.append(int(cols[4]))
        label.append(cols[5])
        info.append(cols[6])
    return snap


def read_edges(snap: Snapshot) -> dict[int, list[tuple[int, str, bool]]]:
    """Every edge of a snapshot, by the object it leaves: (to, label, weak); for the object graph."""
    out: dict[int, list[tuple[int, str, bool]]] = {}
    for i in range(1, len(snap.parent)):
        out.setdefault(snap.parent[i], []).append((i, snap.label_of[i], False))
    with open(snap.path, encoding="utf-8", errors="replace", newline="\n") as f:
        for line in f:
            if line.startswith("-\t") and line.endswith("\n"):
                cols = line.rstrip("\n").split("\t")
                if cols[2] != "?":
                    out.setdefault(int(cols[1]), []).append((int(cols[2]), cols[3], len(cols) > 4))
    return out


def _float(cols: list[str], i: int) -> float:
    try:
        return float(cols[i])
    except (IndexError, ValueError):
        return 0.0
