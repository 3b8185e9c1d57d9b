"""The pure-Python decoder: the fallback when the C extension is not built.

It mirrors `_cdecode.c` record for record and gives the same result on any
input (the unit tests feed both the same fixtures and fuzzed bytes). It keeps
the same state the C one keeps; see `decoder.py` for how a result is read.

About 70x slower than the C decoder (47 s for 100 MB, bench/README.md): fine for
small files; the C one is for the large.

Besides Tarantool's parser's sums it tracks every chunk by address (`_heap`)
and keeps, per owner of live memory, what is live now and the most that was
live at once (see format.py: owners). And it keeps memory bounded by what the
profile holds, not by the file: C symbol names are interned, and runs of C
symbol records are remembered by content (see `_Run`), so that the fork's
re-dumps of its whole C symbol table before every event from a C function
(one run per library) are compared byte for byte, not decoded again.

Time windows (format.py): the stream is split at the harness's marker
allocations, and per row of the reports (a group) and per window it keeps a
"cell": chunks and bytes placed there in that window, and its live bytes
after its last event in that window (its live bytes at the window's end).
Each live chunk remembers its window, so that the result can say how much
of what a window allocated is still live at the end.
"""

from __future__ import annotations

from bisect import bisect_right

from ljprof.profilers.memprof import format as fmt

RawLoc = tuple[int, int, int, int, int, int]
OwnerKey = tuple[int, int, int, int]
_U64_MAX = 2**64 - 1
_CSYM_HEADER = fmt.AEVENT_SYMTAB | fmt.ASOURCE_CFUNC  # a C symbol announced mid-stream


class _Run:
    """A run of C symbol records (consecutive 0x0c records) seen before, kept by content.

    Such a run assigns names to addresses; its net effect (the last name of
    each address) is all that matters, since no event comes between its
    records. When the same bytes come again, the net effect is applied
    instead of decoding them, and not even that when no C symbol changed
    since it was last applied (`applied` equals the decoder's `cver`).
    At most fmt.RUN_CACHE_RUNS runs and fmt.RUN_CACHE_BYTES bytes are kept,
    the first ones seen: others are decoded each time.
    """

    __slots__ = ("applied", "count", "data", "effect")

    def __init__(self, data: bytes, count: int, effect: list[tuple[int, int]], applied: int) -> None:
        self.data = data
        self.count = count  # records in the run
        self.effect = effect  # (addr, name id), one per address
        self.applied = applied  # `cver` when the state last had this run's effect


class _NeedMore(Exception):
    """The buffer ends inside the record; `need` is its known minimal size (0: unknown)."""

    def __init__(self, need: int = 0) -> None:
        super().__init__(need)
        self.need = need


class _Corrupt(Exception):
    def __init__(self, code: int, pos: int, value: int) -> None:
        super().__init__(code, pos, value)
        self.code = code
        self.pos = pos
        self.value = value


def _uleb(data: bytes, p: int, end: int) -> tuple[int, int]:
    """One ULEB128 number at `p`: (value, position after it)."""
    value = 0
    shift = 0
    start = p
    while True:
        if p >= end:
            raise _NeedMore
        byte = data[p]
        p += 1
        if p - start == fmt.ULEB_MAX_BYTES:
            if byte & 0x80:
                raise _Corrupt(fmt.E_ULEB_TOO_LONG, start, 0)
            if byte > 1:
                raise _Corrupt(fmt.E_ULEB_OVERFLOW, start, 0)
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, p
        shift += 7


def _string(data: bytes, p: int, end: int, rec: int) -> tuple[bytes, int]:
    length, p = _uleb(data, p, end)
    if length > end - p:
        raise _NeedMore(min(p - rec + length, _U64_MAX))  # saturates like the C decoder
    return data[p:p + length], p + length


class PyDecoder:
    """Decodes a memprof stream fed in pieces and aggregates it as Tarantool's parser does."""

    def __init__(self, max_windows: int = fmt.MAX_WINDOWS) -> None:
        if not 2 <= max_windows <= fmt.MAX_WINDOWS:
            raise ValueError(f"max_windows must be 2..{fmt.MAX_WINDOWS}, not {max_windows}")
        self._phase = fmt.PHASE_SYMTAB_PROLOGUE
        self._error: tuple[int, int, int, int] | None = None
        self._gen = 1  # bumped whenever a symbol change may change how an address resolves
        self._site_index: dict[tuple[int, int, int], int] = {}
        self._sites: list[tuple[int, int, int]] = []
        self._site_gen: list[int] = []
        self._site_loc: list[int] = []
        self._chunk_index: dict[bytes, int] = {}
        self._chunks: list[bytes] = []
        self._lfunc: dict[int, int] = {}
        self._traces: dict[int, tuple[int, int]] = {}
        self._cfunc: dict[int, list[int]] = {}  # addr -> [name id, 1 when it had other names before]
        self._last_csym = (0, 0)  # (addr, name id) of the last C symbol read
        self._cname_index: dict[bytes, int] = {}
        self._cnames: list[bytes] = []
        self._ckeys: list[int] | None = []
        self._loc_index: dict[RawLoc, int] = {}
        self._locs: list[RawLoc] = []
        self._loc_owner: list[tuple[int, int]] = []  # loc -> (comp, group)
        self._owner_index: tuple[dict[OwnerKey, int], dict[OwnerKey, int]] = ({}, {})
        # comps, groups: [first loc, allocs, frees, live chunks, live bytes, peak live bytes]
        self._owners: tuple[list[list[int]], list[list[int]]] = ([], [])
        self._stats: tuple[dict[int, list[int]], ...] = ({}, {}, {})
        self._prim: dict[tuple[int, int, int], list[int]] = {}
        self._heap: dict[int, tuple[int, int, int]] = {}  # live chunks: addr -> (size, loc, window)
        self._cver = 0  # bumped whenever the C symbols change (a new address, or a new name at one)
        # Runs of C symbol records in the event stream: the one being read, and those kept by content.
        self._in_run = False
        self._run_keep = False  # whether the run being read will be kept (while it fits)
        self._run: list[bytes] = []
        self._run_size = 0
        self._run_count = 0
        self._run_effect: dict[int, int] = {}
        self._runs: list[_Run] = []
        self._runs_bytes = 0
        self._counts = [0] * fmt.NCOUNTS  # see format.COUNT_*
        # Time windows (format.py): markers seen, markers per window, the window events go to now.
        self._max_windows = max_windows
        self._markers = 0
        self._stride = 1
        self._window = 0
        self._marker_chunk = -1  # the chunk id of format.MARKER_CHUNK, once announced
        self._loc_marker: list[bool] = []  # loc -> whether its allocations are markers
        # group -> its cells, in window order: [window, chunks placed, bytes placed, live bytes at the end]
        self._cells: list[list[list[int]]] = []

    # -- the interface shared with the C decoder ---------------------------------

    def phase(self) -> int:
        return self._phase

    def heap(self) -> list[tuple[int, int, int]]:
        """The live chunks: [(addr, size, loc)] (for joining with a heap snapshot)."""
        return [(addr, size, loc) for addr, (size, loc, _window) in self._heap.items()]

    def error(self) -> tuple[int, int, int, int] | None:
        return self._error

    def feed(self, data: bytes | bytearray | memoryview, base: int, final: bool = False) -> tuple[int, int, int]:
        """Decode every complete record in `data` (which starts at file offset `base`).

        Returns (bytes consumed, status, need): `need` is the size of the
        unfinished record when known (a long string), else 0. Until `final`
        (no more data will come), a run of C symbols that may repeat a kept one
        waits for the rest of its bytes (STATUS_WAIT, `need` bytes), so that it
        is compared, not decoded.
        """
        if self._phase == fmt.PHASE_DONE:
            return 0, fmt.STATUS_DONE, 0
        if self._error is not None:
            return 0, fmt.STATUS_ERROR, 0
        buf = bytes(data)
        end = len(buf)
        p = 0
        while True:
            rec = p
            if self._phase == fmt.PHASE_EVENTS and p < end:
                header = buf[p]
                if header != _CSYM_HEADER:
                    if self._in_run:
                        self._end_run()
                elif not self._in_run and self._runs:
                    repeat = self._repeat(buf, p, end, final)
                    if repeat > 0:
                        p += repeat
                        continue
                    if repeat < 0:
                        return rec, fmt.STATUS_WAIT, -repeat
            try:
                p, done = self._record(buf, p, end, rec)
            except _NeedMore as more:
                return rec, fmt.STATUS_MORE, more.need
            except _Corrupt as bad:
                self._error = (bad.code, base + rec, base + bad.pos, bad.value)
                return rec, fmt.STATUS_ERROR, 0
            if done:
                return p, fmt.STATUS_DONE, 0

    def _repeat(self, buf: bytes, p: int, end: int, final: bool) -> int:
        """A run of C symbols starts at `p`: if it is a kept run, apply it and return its size.

        0 when it is none; -(bytes needed) when the data so far could be one and
        more is to come (the decoder then waits for it). Only a whole run counts:
        the byte after it must be there and start another kind of record.
        """
        wait = 0
        for run in self._runs:
            data = run.data
            size = len(data)
            if end - p > size:
                if buf[p + size] != _CSYM_HEADER and buf.startswith(data, p):
                    self._apply_run(run)
                    return size
            elif not final and data.startswith(buf[p:end]):
                wait = max(wait, size + 1)
        return -wait

    def _apply_run(self, run: _Run) -> None:
        if run.applied != self._cver:
            for addr, name_id in run.effect:
                self._set_cname(addr, name_id)
            run.applied = self._cver
        counts = self._counts
        counts[fmt.COUNT_SYM_C] += run.count
        counts[fmt.COUNT_SYMBOL_BYTES] += len(run.data)
        counts[fmt.COUNT_C_RUNS] += 1
        counts[fmt.COUNT_C_RUNS_REPEATED] += 1

    def _end_run(self) -> None:
        if self._run_keep:
            data = b"".join(self._run)
            self._runs.append(_Run(data, self._run_count, list(self._run_effect.items()), self._cver))
            self._runs_bytes += len(data)
        self._run = []
        self._run_size = 0
        self._run_count = 0
        self._run_effect = {}
        self._in_run = False

    def result(self) -> tuple[object, ...]:
        live: dict[int, list[int]] = {}
        still: dict[tuple[int, int], list[int]] = {}  # (group, window) -> live chunks, bytes of its allocations
        for size, loc, window in self._heap.values():
            item = still.setdefault((self._loc_owner[loc][1], window), [0, 0])
            item[0] += 1
            item[1] += size
            entry = live.setdefault(loc, [0, 0])
            entry[0] += 1
            entry[1] += size
        stats = [
            (etype, site, st[0], st[1], st[2], st[3])
            for etype in range(3)
            for site, st in sorted(self._stats[etype].items())
        ]
        primaries = [(key[0], key[1], key[2], pr[0], pr[1], pr[2], pr[3]) for key, pr in self._prim.items()]
        comps, groups = ([tuple(o) for o in owners] for owners in self._owners)
        return (
            list(self._sites),
            list(self._chunks),
            list(self._cnames),
            [(*loc, *self._loc_owner[i]) for i, loc in enumerate(self._locs)],
            stats,
            primaries,
            [(loc, n, size) for loc, (n, size) in sorted(live.items())],
            sorted((no, addr, line) for no, (addr, line) in self._traces.items()),
            tuple(self._counts),
            (len(self._lfunc), len(self._cfunc)),
            comps,
            groups,
            sorted((addr, entry[0], entry[1]) for addr, entry in self._cfunc.items()),
            (self._markers, self._stride, self._window + 1),
            [(group, *cell, *still.get((group, cell[0]), (0, 0)))
             for group, cells in enumerate(self._cells) for cell in cells],
        )

    # -- records -----------------------------------------------------------------

    def _record(self, buf: bytes, p: int, end: int, rec: int) -> tuple[int, bool]:
        phase = self._phase
        if phase == fmt.PHASE_EVENTS:
            return self._event(buf, p, end, rec)
        if phase == fmt.PHASE_SYMTAB:
            p = self._symtab_entry(buf, p, end, rec)
            self._counts[fmt.COUNT_SYMBOL_BYTES] += p - rec
            return p, False
        magic, version, magic_error, version_error = (
            (fmt.SYMTAB_MAGIC, fmt.SYMTAB_VERSION, fmt.E_SYMTAB_MAGIC, fmt.E_SYMTAB_VERSION)
            if phase == fmt.PHASE_SYMTAB_PROLOGUE
            else (fmt.MEMPROF_MAGIC, fmt.MEMPROF_VERSION, fmt.E_MEMPROF_MAGIC, fmt.E_MEMPROF_VERSION)
        )
        avail = end - p
        for i in range(min(avail, 3)):
            if buf[p + i] != magic[i]:
                raise _Corrupt(magic_error, p + i, buf[p + i])
        if avail > 3 and buf[p + 3] != version:
            raise _Corrupt(version_error, p + 3, buf[p + 3])
        if avail < fmt.PROLOGUE_SIZE:
            raise _NeedMore
        if phase == fmt.PHASE_SYMTAB_PROLOGUE:
            self._phase = fmt.PHASE_SYMTAB
            self._counts[fmt.COUNT_SYMBOL_BYTES] += fmt.PROLOGUE_SIZE
        else:
            self._phase = fmt.PHASE_EVENTS
        return p + fmt.PROLOGUE_SIZE, False

    def _symtab_entry(self, buf: bytes, p: int, end: int, rec: int) -> int:
        if p >= end:
            raise _NeedMore
        header = buf[p]
        p += 1
        if header & fmt.SYM_FINAL_BIT:
            self._phase = fmt.PHASE_MEMPROF_PROLOGUE
            return p
        kind = header & 0x03
        if kind not in (fmt.SYM_LFUNC, fmt.SYM_CFUNC, fmt.SYM_TRACE):
            raise _Corrupt(fmt.E_SYMBOL_TYPE, rec, header)
        return self._symbol(kind, buf, p, end, rec, first_count=fmt.COUNT_SYMTAB_LUA)

    def _symbol(self, kind: int, buf: bytes, p: int, end: int, rec: int, first_count: int) -> int:
        """One symbol (Lua function, C function or trace), in the symbol table or mid-stream.

        `kind` is SYM_LFUNC, SYM_CFUNC or SYM_TRACE; the count it adds to is
        `first_count` plus that kind (the two places count separately:
        format.COUNT_SYM_LUA and COUNT_SYMTAB_LUA).
        """
        if kind == fmt.SYM_LFUNC:
            addr, p = _uleb(buf, p, end)
            chunk, p = _string(buf, p, end, rec)
            _line, p = _uleb(buf, p, end)
            self._add_lfunc(addr, chunk)
        elif kind == fmt.SYM_CFUNC:
            addr, p = _uleb(buf, p, end)
            name, p = _string(buf, p, end, rec)
            self._add_cfunc(addr, name)
        else:
            traceno, p = _uleb(buf, p, end)
            addr, p = _uleb(buf, p, end)
            line, p = _uleb(buf, p, end)
            self._add_trace(traceno, addr, line)
        self._counts[first_count + kind] += 1
        return p

    def _event(self, buf: bytes, p: int, end: int, rec: int) -> tuple[int, bool]:
        if p >= end:
            raise _NeedMore
        header = buf[p]
        p += 1
        if header == fmt.EPILOGUE:
            self._phase = fmt.PHASE_DONE
            return p, True
        if not fmt.valid_event_header(header):
            raise _Corrupt(fmt.E_EVENT_HEADER, rec, header)
        aevent = header & fmt.AEVENT_MASK
        source = header & fmt.ASOURCE_MASK
        if aevent == fmt.AEVENT_SYMTAB:
            kind = {fmt.ASOURCE_LFUNC: fmt.SYM_LFUNC, fmt.ASOURCE_CFUNC: fmt.SYM_CFUNC}.get(source, fmt.SYM_TRACE)
            p = self._symbol(kind, buf, p, end, rec, first_count=fmt.COUNT_SYM_LUA)
            self._counts[fmt.COUNT_SYMBOL_BYTES] += p - rec
            if header == _CSYM_HEADER:
                if not self._in_run:
                    self._in_run = True
                    self._run_keep = len(self._runs) < fmt.RUN_CACHE_RUNS
                    self._counts[fmt.COUNT_C_RUNS] += 1
                self._run_count += 1
                if self._run_keep:
                    self._run_size += p - rec
                    if self._runs_bytes + self._run_size > fmt.RUN_CACHE_BYTES:
                        self._run_keep = False  # too big to keep: no need to hold it
                        self._run = []
                        self._run_effect = {}
                    else:
                        self._run.append(buf[rec:p])
                        self._run_effect[self._last_csym[0]] = self._last_csym[1]
            return p, False
        addr = line = traceno = 0
        if source == fmt.ASOURCE_LFUNC:
            addr, p = _uleb(buf, p, end)
            line, p = _uleb(buf, p, end)
        elif source == fmt.ASOURCE_CFUNC:
            addr, p = _uleb(buf, p, end)
        elif source == fmt.ASOURCE_TRACE:
            traceno, p = _uleb(buf, p, end)
        if aevent == fmt.AEVENT_ALLOC:
            naddr, p = _uleb(buf, p, end)
            nsize, p = _uleb(buf, p, end)
            site = self._site(addr, line, traceno)
            loc = self._loc(site)
            if self._loc_marker[loc]:
                self._marker()
            st = self._stat(fmt.ETYPE_ALLOC, site, loc)
            st[0] += 1
            st[1] += nsize
            self._place(naddr, nsize, loc)
            self._counts[fmt.COUNT_ALLOC] += 1
        elif aevent == fmt.AEVENT_REALLOC:
            oaddr, p = _uleb(buf, p, end)
            osize, p = _uleb(buf, p, end)
            naddr, p = _uleb(buf, p, end)
            nsize, p = _uleb(buf, p, end)
            site = self._site(addr, line, traceno)
            loc = self._loc(site)
            st = self._stat(fmt.ETYPE_REALLOC, site, loc)
            st[0] += 1
            st[2] += osize
            st[1] += nsize
            old = self._heap.pop(oaddr, None)
            if old is not None:
                self._link(fmt.ETYPE_REALLOC, site, old, nsize)
                self._release(old)
            else:
                self._counts[fmt.COUNT_UNKNOWN_REALLOCS] += 1
            self._place(naddr, nsize, loc)
            self._counts[fmt.COUNT_REALLOC] += 1
        else:
            oaddr, p = _uleb(buf, p, end)
            osize, p = _uleb(buf, p, end)
            site = self._site(addr, line, traceno)
            loc = self._loc(site)
            st = self._stat(fmt.ETYPE_FREE, site, loc)
            st[0] += 1
            st[2] += osize
            old = self._heap.pop(oaddr, None)
            if old is not None:
                self._link(fmt.ETYPE_FREE, site, old, 0)
                self._release(old)
            else:
                self._counts[fmt.COUNT_UNKNOWN_FREES] += 1
            self._counts[fmt.COUNT_FREE] += 1
        return p, False

    # -- symbols -----------------------------------------------------------------

    def _add_lfunc(self, addr: int, chunk: bytes) -> None:
        chunk_id = self._chunk_index.get(chunk)
        if chunk_id is None:
            chunk_id = self._chunk_index[chunk] = len(self._chunks)
            self._chunks.append(chunk)
            if chunk == fmt.MARKER_CHUNK:
                self._marker_chunk = chunk_id
        if self._lfunc.get(addr) != chunk_id:
            self._lfunc[addr] = chunk_id
            self._gen += 1

    def _add_cfunc(self, addr: int, name: bytes) -> None:
        entry = self._cfunc.get(addr)
        if entry is not None and self._cnames[entry[0]] == name:
            # The fork re-announces every C symbol before each C event: the common case.
            self._last_csym = (addr, entry[0])
            return
        # Names are interned: a library's imports all sit at its base address (see build.py), so
        # the names there take turns in every table the fork writes, and must not pile up.
        name_id = self._cname_index.get(name)
        if name_id is None:
            name_id = self._cname_index[name] = len(self._cnames)
            self._cnames.append(name)
        self._set_cname(addr, name_id)
        self._last_csym = (addr, name_id)

    def _set_cname(self, addr: int, name_id: int) -> None:
        entry = self._cfunc.get(addr)
        if entry is None:
            self._cfunc[addr] = [name_id, 0]
            self._ckeys = None
        elif entry[0] != name_id:
            entry[0] = name_id
            entry[1] = 1
        else:
            return
        self._gen += 1
        self._cver += 1

    def _add_trace(self, traceno: int, addr: int, line: int) -> None:
        if self._traces.get(traceno) != (addr, line):
            self._traces[traceno] = (addr, line)
            self._gen += 1

    def _resolve_plain(self, addr: int) -> tuple[int, int, int]:
        if addr == 0:
            return fmt.RK_INTERNAL, 0, 0
        chunk_id = self._lfunc.get(addr)
        if chunk_id is not None:
            return fmt.RK_LUA, chunk_id, 0
        keys = self._ckeys
        if keys is None:
            keys = self._ckeys = sorted(self._cfunc)
        i = bisect_right(keys, addr)
        if i:
            key = keys[i - 1]
            return fmt.RK_CSYM, key, self._cfunc[key][0]
        return fmt.RK_CRAW, 0, 0

    # -- sites and aggregation ---------------------------------------------------

    def _site(self, addr: int, line: int, traceno: int) -> int:
        key = (addr, line, traceno)
        site = self._site_index.get(key)
        if site is None:
            site = self._site_index[key] = len(self._sites)
            self._sites.append(key)
            self._site_gen.append(0)
            self._site_loc.append(0)
        return site

    def _loc(self, site: int) -> int:
        if self._site_gen[site] == self._gen:
            return self._site_loc[site]
        addr, _line, traceno = self._sites[site]
        if traceno:
            start = self._traces.get(traceno)
            if start is None:
                key: RawLoc = (site, fmt.RK_TRACE, 0, 0, 0, 0)
            else:
                kind, a, b = self._resolve_plain(start[0])
                key = (site, fmt.RK_TRACE_START + kind, start[0], start[1], a, b)
        else:
            kind, a, b = self._resolve_plain(addr)
            key = (site, kind, a, b, 0, 0)
        loc = self._loc_index.get(key)
        if loc is None:
            loc = self._loc_index[key] = len(self._locs)
            self._locs.append(key)
            self._loc_marker.append(key[1] == fmt.RK_LUA and key[2] == self._marker_chunk
                                    and self._sites[site][1] == fmt.MARKER_LINE)
            comp_key, group_key = fmt.owner_keys(key[1:], self._sites[site])
            self._loc_owner.append((self._owner(0, comp_key, loc), self._owner(1, group_key, loc)))
        self._site_gen[site] = self._gen
        self._site_loc[site] = loc
        return loc

    def _owner(self, level: int, key: OwnerKey, loc: int) -> int:
        index = self._owner_index[level]
        owner = index.get(key)
        if owner is None:
            owner = index[key] = len(self._owners[level])
            self._owners[level].append([loc, 0, 0, 0, 0, 0])
            if level:
                self._cells.append([])
        return owner

    # -- live chunks -------------------------------------------------------------

    def _place(self, addr: int, size: int, loc: int) -> None:
        """A chunk now lives at `addr`, owned by `loc`'s comp and group, placed in the current window."""
        old = self._heap.get(addr)
        if old is not None:  # its free was never seen: it is gone now
            self._release(old)
            self._counts[fmt.COUNT_REPLACED] += 1
        self._heap[addr] = (size, loc, self._window)
        for level, owner in enumerate(self._loc_owner[loc]):
            o = self._owners[level][owner]
            o[1] += 1
            o[3] += 1
            o[4] += size
            if o[4] > o[5]:
                o[5] = o[4]
        group = self._loc_owner[loc][1]
        cell = self._cell(group)
        cell[1] += 1
        cell[2] += size
        cell[3] = self._owners[1][group][4]

    def _release(self, chunk: tuple[int, int, int]) -> None:
        size, loc, _window = chunk
        for level, owner in enumerate(self._loc_owner[loc]):
            o = self._owners[level][owner]
            o[2] += 1
            o[3] -= 1
            o[4] -= size
        group = self._loc_owner[loc][1]
        self._cell(group)[3] = self._owners[1][group][4]

    # -- time windows ------------------------------------------------------------

    def _cell(self, group: int) -> list[int]:
        """The group's cell of the current window (made when it has none)."""
        cells = self._cells[group]
        if not cells or cells[-1][0] != self._window:
            cells.append([self._window, 0, 0, 0])
        return cells[-1]

    def _marker(self) -> None:
        """A marker: the next window starts (merging windows two by two when there would be too many)."""
        self._markers += 1
        window = self._markers // self._stride
        if window >= self._max_windows:
            self._stride *= 2
            window = self._markers // self._stride
            for group, cells in enumerate(self._cells):
                merged: list[list[int]] = []
                for w, chunks, size, live in cells:
                    if merged and merged[-1][0] == w >> 1:
                        last = merged[-1]
                        last[1] += chunks
                        last[2] += size
                        last[3] = live
                    else:
                        merged.append([w >> 1, chunks, size, live])
                self._cells[group] = merged
            self._heap = {addr: (size, loc, w >> 1) for addr, (size, loc, w) in self._heap.items()}
        self._window = window

    def _stat(self, etype: int, site: int, loc: int) -> list[int]:
        table = self._stats[etype]
        st = table.get(site)
        if st is None:
            st = table[site] = [0, 0, 0, loc]
        return st

    def _link(self, etype: int, site: int, chunk: tuple[int, int, int], nsize: int) -> None:
        size, loc, _window = chunk
        key = (etype, site, self._locs[loc][0])
        pr = self._prim.get(key)
        if pr is None:
            pr = self._prim[key] = [loc, 0, 0, 0]
        pr[1] += nsize
        pr[2] += size
        pr[3] += 1
