"""What a memprof profile says, as frozen data: the parser's output, the reporters' input.

The numbers are Tarantool's parser's (`luajit -tm`, tools/memprof/*.lua in
the fork), so the text report can match it line for line:

- ALLOCATIONS / REALLOCATIONS / DEALLOCATIONS: per allocation site (a Lua
  line, a C function, a trace, or INTERNAL), how many events of that kind it
  made, the bytes they allocated (+) and freed (-); "overrides" name the sites
  whose memory a realloc or free released, with the bytes and counts.
- HEAP SUMMARY: per location, the bytes allocated there minus the bytes of
  those chunks freed or reallocated later, when positive (what a site still
  holds by the parser's accounting), with the alloc and free counts.

`live` adds what the parser does not print: the chunks still allocated when
the stream ended, by the site that allocated (or last reallocated) them.
`sites` is ljprof's own view of that (the HTML, the JSON, the run summary;
never the text, which stays the parser's): every chunk followed by address,
per row what is still live at the end and the most that was live at once;
a Lua line is one row with the traces that start at it as its parts (a trace
is known only by the line where it starts), C functions are named by their
library and offset where the stream has no symbol for them (see `Location`).

Order (the sections' tuples are in report order):
- sites: most events first; then more bytes allocated, more bytes freed, the
  location's text, and first appearance in the stream. (Tarantool's parser
  sorts by events only and leaves the order of ties undefined.)
- overrides: by the location's text, as the parser prints them; equal texts
  by first appearance.
- heap summary: most bytes held first, then the location's text (the
  parser's order of equal sizes is undefined).
- live: most bytes first, then more chunks, then the text.
- sites: most bytes live at the end first, then more chunks, the higher
  peak, the label; their parts likewise.

`windows` says how the stream splits into time windows at the markers of
ljprof's harness (format.py, windows.py), and each row of `sites` has its
`SiteWindow`s and whether it is `growing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class Location:
    """Where memory was allocated, as the parser names it (`text`) and in parts.

    kind: "internal" (the VM itself: GC, JIT, ...), "lua" (a line of a Lua
    function), "c" (a C function), "trace" (JIT-compiled code).
    For "lua", `source` is the chunk name ("@path/file.lua", or the code itself
    for a chunk loaded from a string, then also named by `alias`) and `line`
    the line of the allocation. For "trace", `trace` is its number and
    `source`/`line` where it starts (when the trace's start is a Lua function;
    `symbol`/`address` when the parser resolved it to C). For "c", `symbol` is
    the nearest C symbol at or below the function's address and `address`
    that symbol's address, or the function's own address when none is known;
    `function` is the function's own address, and `library`/`library_base`
    the library it lies in when the symbols tell (see build.py).

    `label` is ljprof's name for it where it differs from the parser's `text`:
    a C function without a symbol of its own as "cjson.so+0x1a2b" (its library
    and offset) instead of the parser's "__cxa_finalize:0x7f31f6971000" (the
    nearest symbol, here one of the library's imports, all at its base).
    """

    kind: str
    text: str
    source: str | None = None
    line: int | None = None
    alias: str | None = None
    symbol: str | None = None
    address: int | None = None
    trace: int | None = None
    function: int | None = None
    library: str | None = None
    library_base: int | None = None
    label: str | None = None

    @property
    def name(self) -> str:
        """How ljprof's own reports name it (`label`, else the parser's text)."""
        return self.label or self.text

    @property
    def file(self) -> str | None:
        """The path of a chunk loaded from a file ("@path" chunk names), else None."""
        if self.source is not None and self.source.startswith("@"):
            return self.source[1:]
        return None

    def to_json(self) -> Json:
        out: Json = {"kind": self.kind, "text": self.text, "label": self.name}
        for key in ("source", "line", "alias", "symbol", "address", "trace", "function", "library", "library_base"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.file is not None:
            out["file"] = self.file
        return out


@dataclass(frozen=True)
class Override:
    """Memory from `location` that a realloc or free at another site released."""

    location: Location
    count: int  # events that released a chunk from there
    allocated: int  # bytes the reallocs allocated in its place (0 for frees)
    freed: int  # bytes of the released chunks

    def to_json(self) -> Json:
        return {"location": self.location.to_json(), "count": self.count, "allocated": self.allocated,
                "freed": self.freed}


@dataclass(frozen=True)
class SiteStats:
    """One allocation site's events of one kind (alloc, realloc or free)."""

    location: Location
    events: int
    allocated: int  # "+" in the report
    freed: int  # "-" in the report
    overrides: tuple[Override, ...] = ()

    def to_json(self) -> Json:
        return {"location": self.location.to_json(), "events": self.events, "allocated": self.allocated,
                "freed": self.freed, "overrides": [o.to_json() for o in self.overrides]}


@dataclass(frozen=True)
class HeapEntry:
    """A line of the HEAP SUMMARY: what a location still holds by the parser's accounting."""

    location: Location
    holds: int
    allocs: int
    frees: int

    def to_json(self) -> Json:
        return {"location": self.location.to_json(), "holds": self.holds, "allocs": self.allocs,
                "frees": self.frees}


@dataclass(frozen=True)
class LiveEntry:
    """Chunks still allocated when the stream ended, by the site that made them."""

    location: Location
    chunks: int
    bytes: int

    def to_json(self) -> Json:
        return {"location": self.location.to_json(), "chunks": self.chunks, "bytes": self.bytes}


@dataclass(frozen=True)
class LiveStats:
    """Chunks followed by address: what one owner made, released, and holds."""

    live_bytes: int  # still allocated when the stream ended
    live_chunks: int
    allocs: int  # chunks placed here by an alloc or a realloc
    frees: int  # of those, chunks released since (freed, reallocated elsewhere, or replaced)
    peak_bytes: int  # the most that was live at once

    def to_json(self) -> Json:
        return {"live_bytes": self.live_bytes, "live_chunks": self.live_chunks, "allocs": self.allocs,
                "frees": self.frees, "peak_bytes": self.peak_bytes}


@dataclass(frozen=True)
class SiteWindow:
    """A row's events in one time window (a row has one only for the windows it had events in)."""

    window: int
    allocated_chunks: int  # chunks placed in the window (by allocs and reallocs)
    allocated_bytes: int
    live_bytes: int  # the row's live bytes at the window's end (after its last event in it)
    still_live_chunks: int  # of the chunks placed in the window, those still live at the end of the profile
    still_live_bytes: int

    def to_json(self) -> Json:
        return {"window": self.window, "allocated_chunks": self.allocated_chunks,
                "allocated_bytes": self.allocated_bytes, "live_bytes": self.live_bytes,
                "still_live_chunks": self.still_live_chunks, "still_live_bytes": self.still_live_bytes}


@dataclass(frozen=True)
class Windows:
    """How the stream splits into time windows at the harness's markers (format.py).

    Window 0 runs from the start to the first marker; window i from marker
    i * stride to marker (i + 1) * stride, the last one to the end. `stride`
    is 1 unless there were more than format.MAX_WINDOWS windows, merged two by
    two. No marker: one window (windows off, a file recorded elsewhere, a
    target blocked in C all along).
    """

    count: int = 1
    markers: int = 0  # marker allocations in the stream
    stride: int = 1  # markers per window

    def to_json(self) -> Json:
        return {"count": self.count, "markers": self.markers, "stride": self.stride}


@dataclass(frozen=True)
class LivePart:
    """A part of a `LiveSite`: the line run by the interpreter, or one trace that starts there."""

    location: Location  # the parser's name in `text`: "@bot.lua:68", "TRACE [13] started at @bot.lua:68"
    label: str  # "interpreted", "TRACE [13]"; for a row of one part that is no line, its name
    stats: LiveStats

    def to_json(self) -> Json:
        return {"label": self.label, "location": self.location.to_json(), **self.stats.to_json()}


@dataclass(frozen=True)
class LiveSite:
    """A row of ljprof's view: a Lua line (with the traces that start at it), a C function, INTERNAL.

    `location.name` is how the reports print it ("@bot.lua:68", "cjson.so+0x1a2b").
    `harness` marks ljprof's own code (chunks under /ljprof/harness/ and
    /ljprof/profilers/, its C module), `marker` the harness's time-window markers ("=ljprof_marker":1):
    the reports leave both out of the user's view and count them apart.
    `windows`: its events per time window; `growing`: whether its live bytes
    keep rising from window to window (windows.py; None: too few windows).
    """

    location: Location
    stats: LiveStats
    parts: tuple[LivePart, ...]
    harness: bool = False
    growing: bool | None = None
    windows: tuple[SiteWindow, ...] = ()
    marker: bool = False

    def to_json(self) -> Json:
        return {"location": self.location.to_json(), **self.stats.to_json(), "harness": self.harness,
                "marker": self.marker, "growing": self.growing, "parts": [p.to_json() for p in self.parts],
                "windows": [w.to_json() for w in self.windows]}


@dataclass(frozen=True)
class SymbolStats:
    """How much of the file is symbol data, and what the decoder made of the fork's re-dumps."""

    bytes: int  # the symbol table and every symbol record in the event stream
    c_runs: int  # runs of C symbol records in the event stream (the fork's re-dumps: one run per library)
    c_runs_repeated: int  # of those, runs equal to one seen before (compared, not decoded)
    c_names: int  # distinct C symbol names

    def fraction(self, size: int) -> float:
        return self.bytes / size if size else 0.0

    def to_json(self) -> Json:
        return {"bytes": self.bytes, "c_runs": self.c_runs, "c_runs_repeated": self.c_runs_repeated,
                "c_names": self.c_names}


@dataclass(frozen=True)
class Alias:
    """A chunk loaded from a string with newlines, shown by name in locations."""

    name: str  # function_alias_N
    source: str

    def to_json(self) -> Json:
        return {"name": self.name, "source": self.source}


@dataclass(frozen=True)
class Cut:
    """Where decoding stopped before the end marker; everything before `offset` was read."""

    offset: int  # the first byte of the record that is incomplete or bad
    where: str  # "the symbol table", "the event stream's prologue", "the event stream"
    reason: str  # what happened there, for a person
    corrupt: bool  # bad data (True) or the file simply ends (False)

    def to_json(self) -> Json:
        return {"offset": self.offset, "where": self.where, "reason": self.reason, "corrupt": self.corrupt}


@dataclass(frozen=True)
class Counts:
    """Records decoded, by kind."""

    allocs: int = 0
    reallocs: int = 0
    frees: int = 0
    symbols: int = 0  # symbols announced in the event stream (with the fork's C re-dumps)
    symtab: int = 0  # entries of the symbol table before the events
    lua_functions: int = 0  # distinct prototype addresses known at the end
    c_symbols: int = 0  # distinct C symbol addresses known at the end
    traces: int = 0  # distinct trace numbers known at the end
    unknown_frees: int = 0  # frees of addresses with no live chunk (allocated before the profile started)
    unknown_reallocs: int = 0  # reallocs of such addresses
    replaced: int = 0  # allocs onto an address whose chunk was never freed (its free is not in the stream)

    @property
    def events(self) -> int:
        return self.allocs + self.reallocs + self.frees

    def to_json(self) -> Json:
        return {"allocs": self.allocs, "reallocs": self.reallocs, "frees": self.frees, "events": self.events,
                "symbols": self.symbols, "symtab": self.symtab, "lua_functions": self.lua_functions,
                "c_symbols": self.c_symbols, "traces": self.traces, "unknown_frees": self.unknown_frees,
                "unknown_reallocs": self.unknown_reallocs, "replaced": self.replaced}


@dataclass(frozen=True)
class MemprofProfile:
    """A parsed memprof file."""

    source: str  # the file's name, as given
    size: int  # bytes in the file
    complete: bool  # the end marker was read
    cut: Cut | None  # where and why decoding stopped early (None when complete)
    trailing_bytes: int  # bytes after the end marker (ignored)
    counts: Counts
    allocations: tuple[SiteStats, ...]
    reallocations: tuple[SiteStats, ...]
    deallocations: tuple[SiteStats, ...]
    heap_summary: tuple[HeapEntry, ...]
    live: tuple[LiveEntry, ...]
    aliases: tuple[Alias, ...]
    sites: tuple[LiveSite, ...] = ()
    symbols: SymbolStats = SymbolStats(0, 0, 0, 0)
    windows: Windows = Windows()

    def to_json(self) -> Json:
        return {
            "format": "ljprof-memprof/3",
            "source": self.source,
            "size": self.size,
            "complete": self.complete,
            "cut": self.cut.to_json() if self.cut is not None else None,
            "trailing_bytes": self.trailing_bytes,
            "counts": self.counts.to_json(),
            "allocations": [s.to_json() for s in self.allocations],
            "reallocations": [s.to_json() for s in self.reallocations],
            "deallocations": [s.to_json() for s in self.deallocations],
            "heap_summary": [h.to_json() for h in self.heap_summary],
            "live": [x.to_json() for x in self.live],
            "aliases": [a.to_json() for a in self.aliases],
            "sites": [x.to_json() for x in self.sites],
            "symbols": {**self.symbols.to_json(), "fraction": round(self.symbols.fraction(self.size), 4)},
            "windows": self.windows.to_json(),
        }
