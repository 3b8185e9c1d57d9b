"""From a decoder's raw result to the model: names, the parser's sums, the report's order.

A decoder resolves each event's site against the symbols known at that
moment and records the outcome as a "loc" (site id, how it resolved); this
module renders locs as Tarantool's parser does (`utils/symtab.lua`
`demangle`) and does its sums: the sections are per site, the HEAP SUMMARY
per location text (`memprof/process.lua`). It also names C functions by
library and offset where it can (clibs.py), and turns the decoders' owners of
live memory into ljprof's rows (`sites`): a Lua line with the traces that
start at it, a C function, INTERNAL; each with its time windows and whether
it is growing (windows.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from ljprof.profilers.memprof import format as fmt
from ljprof.profilers.memprof import windows as growth
from ljprof.profilers.memprof.clibs import Libraries
from ljprof.profilers.memprof.decoder import RawResult, StreamEnd
from ljprof.profilers.memprof.model import (
    Alias,
    Counts,
    Cut,
    HeapEntry,
    LiveEntry,
    LivePart,
    LiveSite,
    LiveStats,
    Location,
    MemprofProfile,
    Override,
    SiteStats,
    SiteWindow,
    SymbolStats,
    Windows,
)
from ljprof.reporting.model import HARNESS_PREFIXES

HARNESS_LIBRARY = "ljprof_"  # the harness's C module, ljprof_sampler.so
MARKER_SOURCE = fmt.MARKER_CHUNK.decode()

_EVENT_NAMES = {fmt.AEVENT_SYMTAB: "a symbol event", fmt.AEVENT_ALLOC: "an alloc event",
                fmt.AEVENT_FREE: "a free event", fmt.AEVENT_REALLOC: "a realloc event"}


def decode_name(raw: bytes) -> str:
    """A chunk or symbol name as text; bytes that are not UTF-8 become \\xNN escapes."""
    return raw.decode("utf-8", "backslashreplace")


def hex_address(value: int) -> str:
    """Lua's (and C's) "%#x": 0 has no 0x prefix."""
    return f"{value:#x}" if value else "0"


class _Namer:
    def __init__(self, raw: RawResult) -> None:
        self.raw = raw
        self.chunks = [decode_name(c) for c in raw.chunks]
        self.cnames = [decode_name(c) for c in raw.cnames]
        # The parser names chunks with newlines (code loaded from strings) function_alias_N,
        # numbered in the order the symbols announce them.
        self.aliases: dict[int, str] = {}
        for chunk_id, chunk in enumerate(raw.chunks):
            if b"\n" in chunk:
                self.aliases[chunk_id] = f"function_alias_{len(self.aliases) + 1}"
        self.libraries = Libraries([(addr, self.cnames[name], bool(multi)) for addr, name, multi in raw.csyms])
        self.locations = [self._location(loc) for loc in raw.locs]

    def _chunk(self, chunk_id: int) -> tuple[str, str | None]:
        alias = self.aliases.get(chunk_id)
        return self.chunks[chunk_id], alias

    def _location(self, loc: tuple[int, ...]) -> Location:
        site, rkind, a, b, c, d = loc[:6]
        addr, line, traceno = self.raw.sites[site]
        if rkind == fmt.RK_TRACE:
            return Location("trace", f"TRACE [{traceno}]", trace=traceno)
        if rkind >= fmt.RK_TRACE_START:
            start = self._plain(rkind - fmt.RK_TRACE_START, a, b, c, d)
            return Location("trace", f"TRACE [{traceno}] started at {start.text}", source=start.source,
                            line=start.line, alias=start.alias, symbol=start.symbol, address=start.address,
                            trace=traceno)
        return self._plain(rkind, addr, line, a, b)

    def _plain(self, rkind: int, addr: int, line: int, a: int, b: int) -> Location:
        if rkind == fmt.RK_INTERNAL:
            return Location("internal", "INTERNAL")
        if rkind == fmt.RK_LUA:
            source, alias = self._chunk(a)
            return Location("lua", f"{alias or source}:{line}", source=source, line=line, alias=alias)
        if rkind == fmt.RK_CSYM:
            name = self.cnames[b]
            return self._c(Location("c", f"{name}:{hex_address(a)}", symbol=name, address=a, function=addr))
        return self._c(Location("c", f"CFUNC {hex_address(addr)}", address=addr, function=addr))

    def _c(self, location: Location) -> Location:
        """A C function's library, and a label where it has no symbol of its own (see clibs.py)."""
        function = location.function
        assert function is not None
        nearest = location.address if location.symbol is not None else None
        lib = self.libraries.find(function)
        if lib is not None and (nearest is None or nearest >= lib.base):
            exact = nearest == function and nearest != lib.base
            label = location.symbol if exact else lib.offset_label(function)
            return replace(location, library=lib.name, library_base=lib.base, label=label)
        if nearest is not None:
            exact = nearest == function
            return replace(location, label=location.symbol if exact else f"{location.symbol}+{function - nearest:#x}")
        return location

    def line(self, chunk_id: int, line: int) -> Location:
        source, alias = self._chunk(chunk_id)
        return Location("lua", f"{alias or source}:{line}", source=source, line=line, alias=alias)


def _cut(end: StreamEnd) -> Cut | None:
    if end.complete:
        return None
    where = fmt.PHASE_NAMES[end.phase]
    if end.error is not None:
        code, record, pos, value = end.error
        if code == fmt.E_EVENT_HEADER:
            reason = f"corrupt data: byte {record} is 0x{value:02x}, not an event header"
        elif code == fmt.E_SYMBOL_TYPE:
            reason = f"corrupt data: byte {record} is 0x{value:02x}, a symbol entry of unknown type {value & 3}"
        elif code == fmt.E_ULEB_TOO_LONG:
            reason = f"corrupt data: the number at byte {pos} is longer than {fmt.ULEB_MAX_BYTES} bytes"
        else:
            reason = f"corrupt data: the number at byte {pos} does not fit in 64 bits"
        return Cut(record, where, reason, corrupt=True)
    if end.offset >= end.size:
        if end.phase == fmt.PHASE_EVENTS:
            reason = f"the file ends after {end.size} bytes without the end marker"
        else:
            reason = f"the file ends after {end.size} bytes, before {where} is complete"
        return Cut(end.offset, where, reason, corrupt=False)
    what = "a record"
    if end.phase == fmt.PHASE_EVENTS and end.header is not None:
        what = _EVENT_NAMES[end.header & fmt.AEVENT_MASK]
    elif end.phase == fmt.PHASE_SYMTAB:
        what = "a symbol table entry"
    elif end.phase == fmt.PHASE_MEMPROF_PROLOGUE:
        what = "the event stream's prologue"
    if end.need and end.offset + end.need > end.size:
        what += f" of {end.need} bytes"
    reason = f"the file ends after {end.size} bytes, inside {what} that starts at byte {end.offset}"
    return Cut(end.offset, where, reason, corrupt=False)


def _stats(owner: tuple[int, ...]) -> LiveStats:
    _first, allocs, frees, chunks, live, peak = owner
    return LiveStats(live_bytes=live, live_chunks=chunks, allocs=allocs, frees=frees, peak_bytes=peak)


def _order(stats: LiveStats, label: str) -> tuple[int, int, int, str]:
    return (-stats.live_bytes, -stats.live_chunks, -stats.peak_bytes, label)


def _live_sites(raw: RawResult, namer: _Namer) -> tuple[LiveSite, ...]:
    """ljprof's rows: the decoders' groups, each with its comps as parts."""
    parts: dict[int, list[int]] = defaultdict(list)  # group -> its comps
    for loc in raw.locs:
        comp, group = loc[6], loc[7]
        if comp not in parts[group]:
            parts[group].append(comp)

    def keys(loc: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        site, rkind, a, b, c, d = raw.locs[loc][:6]
        return fmt.owner_keys((rkind, a, b, c, d), raw.sites[site])

    cells: dict[int, list[SiteWindow]] = defaultdict(list)  # group -> its windows, in order
    for group, window, *figures in raw.cells:
        cells[group].append(SiteWindow(window, *figures))
    count = raw.windows[2]
    rows = []
    for group, owner in enumerate(raw.groups):
        if not owner[1]:  # never owned a chunk (a site that only freed)
            continue
        first = owner[0]
        key = keys(first)[1]
        location = namer.line(key[1], key[2]) if key[0] == fmt.OWNER_LUA else namer.locations[first]
        row_parts = []
        for comp in parts[group]:
            cowner = raw.comps[comp]
            if not cowner[1]:
                continue
            ckey = keys(cowner[0])[0]
            clocation = namer.locations[cowner[0]]
            if ckey[0] == fmt.OWNER_LUA:
                label = "interpreted"
            elif ckey[0] == fmt.OWNER_TRACE_LUA:
                label = f"TRACE [{ckey[1]}]"
            else:
                label = clocation.name
            row_parts.append(LivePart(clocation, label, _stats(cowner)))
        row_parts.sort(key=lambda part: _order(part.stats, part.label))
        harness = (location.file or "").startswith(HARNESS_PREFIXES) or (location.library or "").startswith(
            HARNESS_LIBRARY)
        marker = location.kind == "lua" and location.source == MARKER_SOURCE and location.line == fmt.MARKER_LINE
        windows = tuple(cells[group])
        rows.append(LiveSite(location, _stats(owner), tuple(row_parts), harness=harness, marker=marker,
                             windows=windows, growing=growth.growing(growth.live_at_ends(windows, count))))
    return tuple(sorted(rows, key=lambda row: _order(row.stats, row.location.name)))


def locations(raw: RawResult) -> list[Location]:
    """Every loc id's location, as the reports name it (for chunks joined by address)."""
    return _Namer(raw).locations


def build_profile(raw: RawResult, end: StreamEnd, source: str) -> MemprofProfile:
    namer = _Namer(raw)
    locations = namer.locations

    overrides: dict[tuple[int, int], list[tuple[str, int, Override]]] = defaultdict(list)
    for etype, site, csite, loc, allocated, freed, count in raw.primaries:
        location = locations[loc]
        overrides[etype, site].append((location.text, csite, Override(location, count, allocated, freed)))

    sections: list[list[tuple[tuple[int, int, int, str, int], SiteStats]]] = [[], [], []]
    for etype, site, events, allocated, freed, loc in raw.stats:
        location = locations[loc]
        links = tuple(o for _text, _csite, o in sorted(overrides.get((etype, site), []), key=lambda x: x[:2]))
        key = (-events, -allocated, -freed, location.text, site)
        sections[etype].append((key, SiteStats(location, events, allocated, freed, links)))
    allocations, reallocations, deallocations = (
        tuple(stats for _key, stats in sorted(section, key=lambda x: x[0])) for section in sections
    )

    # The parser's HEAP SUMMARY (process.lua form_heap_delta), keyed by the location's text.
    first: dict[str, Location] = {}
    heap: dict[str, list[int]] = {}  # text -> [bytes, allocs, frees]

    def entry(location: Location) -> list[int]:
        first.setdefault(location.text, location)
        return heap.setdefault(location.text, [0, 0, 0])

    for etype, _site, events, allocated, _freed, loc in raw.stats:
        if etype == fmt.ETYPE_ALLOC and allocated > 0:
            e = entry(locations[loc])
            e[0] += allocated
            e[1] += events
    for _etype, _site, _csite, loc, allocated, freed, count in raw.primaries:
        if allocated > 0:
            e = entry(locations[loc])
            e[0] += allocated
            e[1] += count
        if freed > 0:
            e = entry(locations[loc])
            e[0] -= freed
            e[2] += count
    heap_summary = tuple(
        HeapEntry(first[text], held, allocs, frees)
        for text, (held, allocs, frees) in sorted(heap.items(), key=lambda kv: (-kv[1][0], kv[0]))
        if held > 0
    )

    live_by_text: dict[str, list[int]] = {}
    for loc, chunks, size in raw.live:
        location = locations[loc]
        first.setdefault(location.text, location)
        item = live_by_text.setdefault(location.text, [0, 0])
        item[0] += chunks
        item[1] += size
    live = tuple(
        LiveEntry(first[text], chunks, size)
        for text, (chunks, size) in sorted(live_by_text.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
    )

    c = raw.counts
    counts = Counts(allocs=c[fmt.COUNT_ALLOC], reallocs=c[fmt.COUNT_REALLOC], frees=c[fmt.COUNT_FREE],
                    symbols=c[fmt.COUNT_SYM_LUA] + c[fmt.COUNT_SYM_C] + c[fmt.COUNT_SYM_TRACE],
                    symtab=c[fmt.COUNT_SYMTAB_LUA] + c[fmt.COUNT_SYMTAB_C] + c[fmt.COUNT_SYMTAB_TRACE],
                    lua_functions=raw.symbols[0], c_symbols=raw.symbols[1], traces=len(raw.traces),
                    unknown_frees=c[fmt.COUNT_UNKNOWN_FREES], unknown_reallocs=c[fmt.COUNT_UNKNOWN_REALLOCS],
                    replaced=c[fmt.COUNT_REPLACED])
    symbols = SymbolStats(bytes=c[fmt.COUNT_SYMBOL_BYTES], c_runs=c[fmt.COUNT_C_RUNS],
                          c_runs_repeated=c[fmt.COUNT_C_RUNS_REPEATED], c_names=len(raw.cnames))
    aliases = tuple(Alias(name, namer.chunks[chunk_id]) for chunk_id, name in namer.aliases.items())
    return MemprofProfile(
        source=source,
        size=end.size,
        complete=end.complete,
        cut=_cut(end),
        trailing_bytes=end.trailing_bytes,
        counts=counts,
        allocations=allocations,
        reallocations=reallocations,
        deallocations=deallocations,
        heap_summary=heap_summary,
        live=live,
        aliases=aliases,
        sites=_live_sites(raw, namer),
        symbols=symbols,
        windows=Windows(count=raw.windows[2], markers=raw.windows[0], stride=raw.windows[1]),
    )
