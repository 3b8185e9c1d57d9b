"""The trace log: what the JIT compiler did during a run, whatever recorded it
(jit.v, jit.dump or loom), and the groupings the reports show.

Trace numbers are not identities: LuaJIT reuses a number after an abort, after
`jit.flush()` and after a trace is garbage-collected. A compiled trace is
identified by (flush epoch, number, generation): the epoch counts flushes
before it, the generation counts earlier traces with that number in the epoch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# Link types as jit.util.traceinfo names them (lib_jit.c, jit_trlinkname).
LINK_TYPES = ("none", "root", "loop", "tail-recursion", "up-recursion", "down-recursion",
              "interpreter", "return", "stitch")

# A start location whose traces abort this often (and compile less often than
# they abort) is about to be blacklisted, or already was: LuaJIT stops trying
# after a few penalised attempts (lj_trace.c, PENALTY_*), and the loop stays
# in the interpreter for good.
BLACKLIST_ABORTS = 5


@dataclass(frozen=True)
class Trace:
    """A compiled trace (a `stop` event)."""

    epoch: int
    number: int
    generation: int  # earlier traces with this number in this epoch
    start: str  # location as the report names it: "@traces.lua:24", "[string 1]:2", "pairs"
    parent: int | None  # the trace it is a side trace of (or was stitched from)
    exit: int | None  # the parent's exit, None for root traces and stitches
    link: str  # one of LINK_TYPES
    link_to: int | None  # the trace it links to, when not itself

    @property
    def kind(self) -> str:
        """root, side (starts at a parent's exit) or stitch (continues a trace after a C call)."""
        if self.parent is None:
            return "root"
        return "side" if self.exit is not None else "stitch"


@dataclass(frozen=True)
class Abort:
    """A trace attempt that was given up."""

    epoch: int
    start: str
    parent: int | None
    location: str  # where recording stopped (the start when the log does not say)
    reason: str


@dataclass(frozen=True)
class Group:
    """A row of a grouping: its key, and how many."""

    location: str
    reason: str
    count: int


@dataclass
class TraceLog:
    """Everything a recorder wrote, in order; `cut` when its last line was incomplete."""

    source: str  # "jit.v" | "jit.dump" | "loom"
    traces: list[Trace] = field(default_factory=list)
    aborts: list[Abort] = field(default_factory=list)
    flushes: int = 0
    cut: bool = False
    chunks: dict[str, str] = field(default_factory=dict)  # short name -> chunk name as the log printed it
    open_start: str | None = None  # a trace being recorded when the log ended

    @property
    def root(self) -> int:
        return sum(1 for t in self.traces if t.kind != "side")

    @property
    def side(self) -> int:
        return sum(1 for t in self.traces if t.kind == "side")

    def links(self) -> Counter[str]:
        return Counter(t.link for t in self.traces)

    def aborts_by_reason(self) -> list[Group]:
        return _groups(("", a.reason) for a in self.aborts)

    def aborts_by_location(self) -> list[Group]:
        """(abort location, reason): the line to change first is on top."""
        return _groups((a.location, a.reason) for a in self.aborts)

    def aborts_by_start(self) -> list[Group]:
        """Where the aborted attempts started (the loop or function the JIT tried), with the top reason."""
        reasons: dict[str, Counter[str]] = {}
        for a in self.aborts:
            reasons.setdefault(a.start, Counter())[a.reason] += 1
        rows = [Group(start, c.most_common(1)[0][0], sum(c.values())) for start, c in reasons.items()]
        return sorted(rows, key=lambda g: (-g.count, g.location))

    def traces_by_start(self) -> Counter[str]:
        return Counter(t.start for t in self.traces)

    def without(self, starts: Callable[[str], bool]) -> tuple[TraceLog, int, int]:
        """This log without the traces and aborts whose recording started where `starts` says
        (ljprof's own Lua), and how many traces and aborts were left out."""
        traces = [t for t in self.traces if not starts(t.start)]
        aborts = [a for a in self.aborts if not starts(a.start)]
        kept = TraceLog(self.source, traces, aborts, self.flushes, self.cut, self.chunks, self.open_start)
        return kept, len(self.traces) - len(traces), len(self.aborts) - len(aborts)

    def blacklist_candidates(self) -> list[Group]:
        """Start locations that abort again and again and rarely compile."""
        compiled = self.traces_by_start()
        return [g for g in self.aborts_by_start()
                if g.count >= BLACKLIST_ABORTS and g.count > compiled.get(g.location, 0)]


def _groups(keys: Iterable[tuple[str, str]]) -> list[Group]:
    counts = Counter(keys)
    rows = [Group(loc, reason, n) for (loc, reason), n in counts.items()]
    return sorted(rows, key=lambda g: (-g.count, g.location, g.reason))
