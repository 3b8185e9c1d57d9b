"""A plain reference decoder of memprof streams, and the helpers the memprof tests share.

The reference is written to be read, not to be fast: a byte cursor, one
function per rule of the grammar in `lj_memprof.h`/`lj_symtab.h`, and
Tarantool's parser's aggregation as it is written in tools/memprof/*.lua:
events keyed by site, each location rendered to text when its event is read,
the heap summary keyed by that text. Where a stream is cut or corrupt it
follows ljprof's rules (ljprof/profilers/memprof/format.py), so that fuzzed
inputs can be compared with ljprof's decoders.

Besides the parser's tables it follows every chunk by address, as ljprof
does, and sums per owner (a Lua line, a trace, a C function, INTERNAL; and
the rows a report shows, a line with the traces that start at it) what is
live, and the most that was live at once; see `owners_of`. And it splits the
stream into time windows at the harness's markers (ljprof/profilers/memprof/
format.py), keeping every window and merging them only at the end (see
`canonical_windows`), where ljprof's decoders merge them as they go.

The tests in this file check the reference itself against the peer: its text
report, after ordering ties alike (see `canonical_report`), equals the output
of `luajit -tm` recorded in tests/fixtures/memprof/ on every complete fixture.
"""

from __future__ import annotations

import functools
import lzma
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "memprof"
MARKER_CHUNK = b"=ljprof_marker"  # the harness's markers: an allocation at this chunk's line 1
MARKER_LINE = 1
MAX_WINDOWS = 512

# Complete fixtures with the peer's output (NAME.bin.txt, .leak-only.txt, .human-readable.txt).
COMPLETE = ["leak.bin", "loadstring.bin", "traces.bin", "cfunc.bin.xz", "windows.bin"]
CUT = ["killed.bin.xz", "symtab-cut.bin"]
MODES = {"": {}, ".leak-only": {"leak_only": True}, ".human-readable": {"human_readable": True}}


@functools.cache
def fixture_bytes(name: str) -> bytes:
    data = (FIXTURES / name).read_bytes()
    return lzma.decompress(data) if name.endswith(".xz") else data


def peer_output(name: str, mode: str) -> str:
    base = name.removesuffix(".xz")
    return (FIXTURES / f"{base}{mode}.txt").read_text(encoding="utf-8")


# -- the reference decoder -------------------------------------------------------------------------


class OutOfData(Exception):
    """The data ends inside a record."""


class Corrupt(Exception):
    """The data cannot be a memprof stream from here on."""


class HeaderError(Exception):
    """The file is rejected: wrong magic or version, or too short for the first prologue."""


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise OutOfData
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uleb(self) -> int:
        value = 0
        for i in range(10):
            b = self.byte()
            if i == 9 and b & 0x80:
                raise Corrupt("ULEB128 longer than 10 bytes")
            if i == 9 and b > 1:
                raise Corrupt("ULEB128 overflows 64 bits")
            value |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                return value
        raise AssertionError("unreachable")

    def string(self) -> bytes:
        n = self.uleb()
        if n > len(self.data) - self.pos:
            raise OutOfData
        s = self.data[self.pos:self.pos + n]
        self.pos += n
        return s


def text(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


@dataclass
class Symbols:
    lfunc: dict[int, bytes] = field(default_factory=dict)
    cfunc: dict[int, bytes] = field(default_factory=dict)
    trace: dict[int, tuple[int, int]] = field(default_factory=dict)
    alias: dict[bytes, str] = field(default_factory=dict)

    def add_lfunc(self, addr: int, chunk: bytes) -> None:
        if b"\n" in chunk and chunk not in self.alias:
            self.alias[chunk] = f"function_alias_{len(self.alias) + 1}"
        self.lfunc[addr] = chunk

    def demangle(self, addr: int, line: int, traceno: int) -> str:
        """utils/symtab.lua's demangle."""
        if traceno != 0:
            s = f"TRACE [{traceno}]"
            if traceno in self.trace:
                start_addr, start_line = self.trace[traceno]
                s += " started at " + self.demangle(start_addr, start_line, 0)
            return s
        if addr == 0:
            return "INTERNAL"
        if addr in self.lfunc:
            chunk = self.lfunc[addr]
            return f"{self.alias.get(chunk) or text(chunk)}:{line}"
        below = [k for k in self.cfunc if k <= addr]
        if below:
            key = max(below)
            return f"{text(self.cfunc[key])}:{key:#x}" if key else f"{text(self.cfunc[key])}:0"
        return f"CFUNC {addr:#x}" if addr else "CFUNC 0"


@dataclass
class Primary:
    loc: str
    allocated: int = 0
    freed: int = 0
    count: int = 0


@dataclass
class Event:
    loc: str
    num: int = 0
    alloc: int = 0
    free: int = 0
    primary: dict[tuple[int, int, int], Primary] = field(default_factory=dict)


OwnerKey = tuple[object, ...]
Owners = tuple[OwnerKey, OwnerKey]


@dataclass
class Reference:
    """What the reference decoder found: the parser's tables, and how the stream ended."""

    symbols: Symbols = field(default_factory=Symbols)
    events: dict[str, dict[tuple[int, int, int], Event]] = field(
        default_factory=lambda: {"alloc": {}, "realloc": {}, "free": {}})
    heap: dict[int, tuple[int, tuple[int, int, int], str]] = field(default_factory=dict)
    owner_of: dict[int, Owners] = field(default_factory=dict)  # live chunk -> its (comp, group)
    # (comp or group key) -> [allocs, frees, live chunks, live bytes, peak live bytes]
    owners: tuple[dict[OwnerKey, list[int]], dict[OwnerKey, list[int]]] = field(default_factory=lambda: ({}, {}))
    counts: dict[str, int] = field(default_factory=lambda: {
        "alloc": 0, "realloc": 0, "free": 0, "unknown_frees": 0, "unknown_reallocs": 0, "replaced": 0,
        "symbol_bytes": 0, "c_runs": 0})
    markers: int = 0  # marker allocations seen: events go to window `markers`
    chunk_window: dict[int, int] = field(default_factory=dict)  # live chunk -> the window it was placed in
    # (row key, window) -> [chunks placed, bytes placed, the row's live bytes after its last event there]
    cells: dict[tuple[OwnerKey, int], list[int]] = field(default_factory=dict)
    ending: str = ""  # "complete", "cut" or "corrupt"
    offset: int = 0  # after the end marker, or where the cut or bad record starts
    trailing: int = 0


def reference_decode(data: bytes) -> Reference:
    """Decode a whole stream; raises HeaderError for a file ljprof rejects."""
    ref = Reference()
    r = Reader(data)
    try:
        expect_prologue(r, b"ljs")
    except (OutOfData, Corrupt) as exc:
        raise HeaderError(str(exc)) from exc
    ref.counts["symbol_bytes"] = r.pos
    record = r.pos
    try:
        while True:  # the symbol table
            record = r.pos
            header = r.byte()
            if header & 0x80:
                ref.counts["symbol_bytes"] += 1
                break
            kind = header & 3
            if kind == 0:
                addr = r.uleb()
                chunk = r.string()
                r.uleb()
                ref.symbols.add_lfunc(addr, chunk)
            elif kind == 1:
                addr = r.uleb()
                ref.symbols.cfunc[addr] = r.string()
            elif kind == 2:
                traceno, addr, line = r.uleb(), r.uleb(), r.uleb()
                ref.symbols.trace[traceno] = (addr, line)
            else:
                raise Corrupt("symbol type 3")
            ref.counts["symbol_bytes"] += r.pos - record
        record = r.pos
        expect_prologue(r, b"ljm")
        previous = -1  # the header of the record before
        while True:  # the events
            record = r.pos
            header = data[record] if record < len(data) else -1
            more = read_event(r, ref)
            if header in (0x08, 0x0C, 0x10):  # a symbol record
                ref.counts["symbol_bytes"] += r.pos - record
                if header == 0x0C and previous != 0x0C:
                    ref.counts["c_runs"] += 1
            previous = header
            if not more:
                ref.ending, ref.offset = "complete", r.pos
                ref.trailing = len(data) - r.pos
                return ref
    except OutOfData:
        ref.ending, ref.offset = "cut", record
    except Corrupt:
        ref.ending, ref.offset = "corrupt", record
    return ref


def expect_prologue(r: Reader, magic: bytes) -> None:
    for expected in magic:
        if r.byte() != expected:
            raise HeaderError(f"bad magic, expected {magic!r}")
    if r.byte() != 3:
        raise HeaderError("bad version")
    for _ in range(3):
        r.byte()


def read_event(r: Reader, ref: Reference) -> bool:
    header = r.byte()
    if header == 0x80:
        return False
    aevent, source = header & 3, header & 0x1C
    if header > 0x13 or (aevent == 0 and source not in (0x08, 0x0C, 0x10)) or source == 0:
        raise Corrupt(f"event header {header:#x}")
    if aevent == 0:
        if source == 0x08:
            addr = r.uleb()
            chunk = r.string()
            r.uleb()
            ref.symbols.add_lfunc(addr, chunk)
        elif source == 0x0C:
            addr = r.uleb()
            ref.symbols.cfunc[addr] = r.string()
        else:
            traceno, addr, line = r.uleb(), r.uleb(), r.uleb()
            ref.symbols.trace[traceno] = (addr, line)
        return True
    addr = line = traceno = 0
    if source == 0x08:
        addr, line = r.uleb(), r.uleb()
    elif source == 0x0C:
        addr = r.uleb()
    elif source == 0x10:
        traceno = r.uleb()
    site = (addr, line, traceno)
    if aevent == 1:
        naddr, nsize = r.uleb(), r.uleb()
        if traceno == 0 and addr != 0 and ref.symbols.lfunc.get(addr) == MARKER_CHUNK and line == MARKER_LINE:
            ref.markers += 1  # the harness's marker: the next window starts with it
        loc = ref.symbols.demangle(*site)
        e = ref.events["alloc"].setdefault(site, Event(loc))
        e.num += 1
        e.alloc += nsize
        place(ref, naddr, nsize, site, loc)
        ref.counts["alloc"] += 1
    elif aevent == 3:
        oaddr, osize, naddr, nsize = r.uleb(), r.uleb(), r.uleb(), r.uleb()
        loc = ref.symbols.demangle(*site)
        e = ref.events["realloc"].setdefault(site, Event(loc))
        e.num += 1
        e.free += osize
        e.alloc += nsize
        link_to_previous(ref.heap.get(oaddr), e, nsize)
        if not release(ref, oaddr):
            ref.counts["unknown_reallocs"] += 1
        place(ref, naddr, nsize, site, loc)
        ref.counts["realloc"] += 1
    else:
        oaddr, osize = r.uleb(), r.uleb()
        loc = ref.symbols.demangle(*site)
        e = ref.events["free"].setdefault(site, Event(loc))
        e.num += 1
        e.free += osize
        link_to_previous(ref.heap.get(oaddr), e, 0)
        if not release(ref, oaddr):
            ref.counts["unknown_frees"] += 1
        ref.counts["free"] += 1
    return True


def owners_of(symbols: Symbols, addr: int, line: int, traceno: int) -> Owners:
    """Who owns a chunk allocated at a site: (its part, its row), keyed by what they mean.

    A part is a Lua line run by the interpreter, one trace, one C function (by
    its own address) or INTERNAL; a row is a Lua line together with the traces
    that start at it, else the part itself.
    """
    if traceno:
        if traceno not in symbols.trace:
            key: OwnerKey = ("trace", traceno)
            return key, key
        start, start_line = symbols.trace[traceno]
        if start != 0 and start in symbols.lfunc:
            chunk = symbols.lfunc[start]
            return ("trace", traceno, chunk, start_line), ("line", chunk, start_line)
        key = ("trace at", traceno, start, start_line)
        return key, key
    if addr == 0:
        return ("internal",), ("internal",)
    if addr in symbols.lfunc:
        key = ("line", symbols.lfunc[addr], line)
        return key, key
    return ("c", addr), ("c", addr)


def place(ref: Reference, addr: int, size: int, site: tuple[int, int, int], loc: str) -> None:
    if release(ref, addr):  # a chunk whose free never came
        ref.counts["replaced"] += 1
    ref.heap[addr] = (size, site, loc)
    owners = owners_of(ref.symbols, *site)
    ref.owner_of[addr] = owners
    ref.chunk_window[addr] = ref.markers
    for table, key in zip(ref.owners, owners, strict=True):
        o = table.setdefault(key, [0, 0, 0, 0, 0])
        o[0] += 1
        o[2] += 1
        o[3] += size
        o[4] = max(o[4], o[3])
    cell = ref.cells.setdefault((owners[1], ref.markers), [0, 0, 0])
    cell[0] += 1
    cell[1] += size
    cell[2] = ref.owners[1][owners[1]][3]


def release(ref: Reference, addr: int) -> bool:
    """Take the chunk at `addr` off its owners; False when no chunk lives there."""
    chunk = ref.heap.pop(addr, None)
    if chunk is None:
        return False
    owners = ref.owner_of.pop(addr)
    del ref.chunk_window[addr]
    for table, key in zip(ref.owners, owners, strict=True):
        o = table[key]
        o[1] += 1
        o[2] -= 1
        o[3] -= chunk[0]
    ref.cells.setdefault((owners[1], ref.markers), [0, 0, 0])[2] = ref.owners[1][owners[1]][3]
    return True


def link_to_previous(chunk: tuple[int, tuple[int, int, int], str] | None, e: Event, nsize: int) -> None:
    if chunk is None:
        return
    size, site, loc = chunk
    p = e.primary.setdefault(site, Primary(loc))
    p.allocated += nsize
    p.freed += size
    p.count += 1


def heap_delta(ref: Reference) -> dict[str, list[int]]:
    """process.lua's form_heap_delta: location text -> [bytes, allocs, frees]."""
    dheap: dict[str, list[int]] = {}
    for e in ref.events["alloc"].values():
        if e.alloc > 0:
            d = dheap.setdefault(e.loc, [0, 0, 0])
            d[0] += e.alloc
            d[1] += e.num
    for kind in ("realloc", "free"):
        for e in ref.events[kind].values():
            for p in e.primary.values():
                if p.allocated > 0:
                    d = dheap.setdefault(p.loc, [0, 0, 0])
                    d[0] += p.allocated
                    d[1] += p.count
                if p.freed > 0:
                    d = dheap.setdefault(p.loc, [0, 0, 0])
                    d[0] -= p.freed
                    d[2] += p.count
    return dheap


def canonical(ref: Reference) -> dict[str, object]:
    """The reference's findings in a form that does not depend on any order."""
    sections = {}
    for name, kind in (("allocations", "alloc"), ("reallocations", "realloc"), ("deallocations", "free")):
        sections[name] = sorted(
            (e.loc, e.num, e.alloc, e.free,
             tuple(sorted((p.loc, p.allocated, p.freed, p.count) for p in e.primary.values())))
            for e in ref.events[kind].values()
        )
    live: dict[str, list[int]] = {}
    for size, _site, loc in ref.heap.values():
        item = live.setdefault(loc, [0, 0])
        item[0] += 1
        item[1] += size
    return {
        **sections,
        "heap_summary": sorted((loc, d[0], d[1], d[2]) for loc, d in heap_delta(ref).items() if d[0] > 0),
        "live": sorted((loc, n, size) for loc, (n, size) in live.items()),
        "aliases": [(name, text(chunk)) for chunk, name in ref.symbols.alias.items()],
        "counts": (ref.counts["alloc"], ref.counts["realloc"], ref.counts["free"]),
        "ending": (ref.ending, ref.offset, ref.trailing),
    }


def canonical_owners(ref: Reference) -> dict[str, object]:
    """What is live per owner, and the tracking's counters, as `raw_owners` gives them for a decoder."""
    return {
        "comps": {key: tuple(o) for key, o in ref.owners[0].items()},
        "groups": {key: tuple(o) for key, o in ref.owners[1].items()},
        "counts": {k: ref.counts[k] for k in ("unknown_frees", "unknown_reallocs", "replaced", "symbol_bytes",
                                              "c_runs")},
    }


def canonical_windows(ref: Reference, max_windows: int = MAX_WINDOWS) -> dict[str, object]:
    """The time windows as ljprof's decoders give them (see `raw_windows` in test_memprof_parse).

    The reference keeps one window per marker and merges them here: window i
    takes markers [i * stride, (i + 1) * stride), for the smallest power of two
    `stride` that leaves fewer than `max_windows` windows.
    """
    stride = 1
    while ref.markers // stride >= max_windows:
        stride *= 2
    cells: dict[tuple[OwnerKey, int], list[int]] = {}
    for (key, marker), (chunks, size, live) in ref.cells.items():  # each row's cells in window order
        cell = cells.setdefault((key, marker // stride), [0, 0, 0, 0, 0])
        cell[0] += chunks
        cell[1] += size
        cell[2] = live
    for addr, (size, _site, _loc) in ref.heap.items():
        cell = cells[ref.owner_of[addr][1], ref.chunk_window[addr] // stride]
        cell[3] += 1
        cell[4] += size
    return {"windows": (ref.markers, stride, ref.markers // stride + 1),
            "cells": {key: tuple(cell) for key, cell in cells.items()}}


def human_bytes(n: float) -> str:
    units = ["B", "KiB", "MiB", "GiB"]
    i = 0
    while n >= 1024 and i < 3:
        n /= 1024
        i += 1
    return f"{int(n)}{units[i]}" if n == int(n) else f"{n:.2f}{units[i]}"


def reference_text(ref: Reference, leak_only: bool = False, human_readable: bool = False) -> str:
    """humanize.lua's output, ties in any order."""

    def fmt(n: int) -> str:
        return human_bytes(n) if human_readable else f"{n}B"

    out: list[str] = []
    if not leak_only:
        for title, kind in (("ALLOCATIONS", "alloc"), ("REALLOCATIONS", "realloc"), ("DEALLOCATIONS", "free")):
            out.append(title)
            for e in sorted(ref.events[kind].values(), key=lambda e: -e.num):
                out.append(f"{e.loc}: {e.num} events\t+{fmt(e.alloc)}\t-{fmt(e.free)}")
                if e.primary:
                    out.append("\tOverrides:")
                    out.extend(f"\t\t{loc}" for loc in sorted(p.loc for p in e.primary.values()))
                    out.append("")
            out.append("")
    out.append("HEAP SUMMARY:")
    leaks = sorted(((loc, d) for loc, d in heap_delta(ref).items() if d[0] > 0), key=lambda x: -x[1][0])
    out.extend(f"{loc} holds {fmt(d[0])}: {d[1]} allocs, {d[2]} frees" for loc, d in leaks)
    out.append("")
    if ref.symbols.alias:
        out.append("ALIASES:")
        for chunk, name in ref.symbols.alias.items():
            out.append(f"{name}:")
            lines = [line for line in text(chunk).split("\n") if line]
            out.extend(f"{i}\t| {line}" for i, line in enumerate(lines, start=1))
            out.append("\n")
    return "\n".join(out) + "\n"


# -- comparing with the peer's text ----------------------------------------------------------------

_UNIT = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
_EVENTS = re.compile(r": (\d+) events\t")
_HOLDS = re.compile(r" holds ([0-9.]+)(B|KiB|MiB|GiB): ")


def canonical_report(report: str) -> list[str]:
    """A text report with the entries of each section in a fixed order where the peer's is undefined.

    The peer sorts sites by their number of events and the heap summary by
    bytes held, and leaves the order of equal keys to Lua's unstable
    table.sort over a hash table. This checks that each section is sorted by
    its key (descending), then orders entries with equal keys by their text,
    so two reports compare equal exactly when they differ only in the order
    of ties. Everything else (titles, overrides, blank lines, aliases) is
    kept as it is.
    """
    lines = report.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if line in ("ALLOCATIONS", "REALLOCATIONS", "DEALLOCATIONS"):
            blocks: list[tuple[int, list[str]]] = []
            while lines[i] != "":
                block = [lines[i]]
                i += 1
                if lines[i] == "\tOverrides:":
                    while lines[i] != "":
                        block.append(lines[i])
                        i += 1
                    block.append(lines[i])
                    i += 1
                match = _EVENTS.search(block[0])
                assert match, block[0]
                blocks.append((int(match.group(1)), block))
            keys = [key for key, _ in blocks]
            assert keys == sorted(keys, reverse=True), f"{line}: not sorted by events: {keys}"
            for _key, block in sorted(blocks, key=lambda kb: (-kb[0], "\n".join(kb[1]))):
                out.extend(block)
        elif line == "HEAP SUMMARY:":
            entries: list[tuple[float, str]] = []
            while lines[i] != "":
                match = _HOLDS.search(lines[i])
                assert match, lines[i]
                entries.append((float(match.group(1)) * _UNIT[match.group(2)], lines[i]))
                i += 1
            sizes = [size for size, _ in entries]
            assert sizes == sorted(sizes, reverse=True), f"HEAP SUMMARY not sorted by size: {sizes}"
            out.extend(entry for _size, entry in sorted(entries, key=lambda e: (-e[0], e[1])))
    return out


# -- the reference's own tests ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", COMPLETE)
def test_reference_matches_the_peer(name: str, mode: str) -> None:
    ref = reference_decode(fixture_bytes(name))
    assert ref.ending == "complete"
    ours = reference_text(ref, **MODES[mode])
    assert canonical_report(ours) == canonical_report(peer_output(name, mode))


@pytest.mark.parametrize("name", CUT)
def test_reference_reads_cut_files_up_to_the_cut(name: str) -> None:
    data = fixture_bytes(name)
    ref = reference_decode(data)
    assert ref.ending == "cut"
    assert 0 < ref.offset <= len(data)


def test_canonical_report_orders_only_ties() -> None:
    a = "ALLOCATIONS\nx:1: 2 events\t+1B\t-0B\ny:1: 1 events\t+1B\t-0B\nz:1: 1 events\t+2B\t-0B\n\n"
    b = "ALLOCATIONS\nx:1: 2 events\t+1B\t-0B\nz:1: 1 events\t+2B\t-0B\ny:1: 1 events\t+1B\t-0B\n\n"
    assert canonical_report(a) == canonical_report(b)
    unsorted = "ALLOCATIONS\ny:1: 1 events\t+1B\t-0B\nx:1: 2 events\t+1B\t-0B\n\n"
    with pytest.raises(AssertionError, match="not sorted"):
        canonical_report(unsorted)
    heap = "HEAP SUMMARY:\na holds 1.50KiB: 1 allocs, 0 frees\nb holds 1000B: 1 allocs, 0 frees\n\n"
    assert canonical_report(heap) == heap.split("\n")
