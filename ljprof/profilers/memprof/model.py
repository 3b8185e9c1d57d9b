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

Order (the sections' tuples are in report order):
- sites: most events first; then more bytes allocated, more bytes freed, the
  location's text, and first appearance in the stream. (Tarantool's parser
  sorts by events only and leaves the order of ties undefined.)
- overrides: by the location's text, as the parser prints them; equal texts
  by first appearance.
- heap summary: most bytes held first, then the location's text (the
  parser's order of equal sizes is undefined).
- live: most bytes first, then more chunks, then the text.
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
    that symbol's address, or the function's own address when none is known.
    """

    kind: str
    text: str
    source: str | None = None
    line: int | None = None
    alias: str | None = None
    symbol: str | None = None
    address: int | None = None
    trace: int | None = None

    @property
    def file(self) -> str | None:
        """The path of a chunk loaded from a file ("@path" chunk names), else None."""
        if self.source is not None and self.source.startswith("@"):
            return self.source[1:]
        return None

    def to_json(self) -> Json:
        out: Json = {"kind": self.kind, "text": self.text}
        for key in ("source", "line", "alias", "symbol", "address", "trace"):
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

    @property
    def events(self) -> int:
        return self.allocs + self.reallocs + self.frees

    def to_json(self) -> Json:
        return {"allocs": self.allocs, "reallocs": self.reallocs, "frees": self.frees, "events": self.events,
                "symbols": self.symbols, "symtab": self.symtab, "lua_functions": self.lua_functions,
                "c_symbols": self.c_symbols, "traces": self.traces}


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

    def to_json(self) -> Json:
        return {
            "format": "ljprof-memprof/1",
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
        }
