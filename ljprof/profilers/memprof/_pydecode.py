"""The pure-Python decoder: the fallback when the C extension is not built.

It mirrors `_cdecode.c` record for record and gives the same result on any
input (the unit tests feed both the same fixtures and fuzzed bytes). It keeps
the same state the C one keeps; see `decoder.py` for how a result is read.

About 70x slower than the C decoder (47 s for 100 MB, bench/README.md): fine for
small files; the C one is for the large.
"""

from __future__ import annotations

from bisect import bisect_right

from ljprof.profilers.memprof import format as fmt

RawLoc = tuple[int, int, int, int, int, int]
_U64_MAX = 2**64 - 1


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

    def __init__(self) -> None:
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
        self._cfunc: dict[int, int] = {}
        self._cnames: list[bytes] = []
        self._ckeys: list[int] | None = []
        self._loc_index: dict[RawLoc, int] = {}
        self._locs: list[RawLoc] = []
        self._stats: tuple[dict[int, list[int]], ...] = ({}, {}, {})
        self._prim: dict[tuple[int, int, int], list[int]] = {}
        self._heap: dict[int, tuple[int, int]] = {}
        # alloc, realloc, free, symbols mid-stream (lua, c, trace), symbol table (lua, c, trace)
        self._counts = [0] * 9

    # -- the interface shared with the C decoder ---------------------------------

    def phase(self) -> int:
        return self._phase

    def error(self) -> tuple[int, int, int, int] | None:
        return self._error

    def feed(self, data: bytes | bytearray | memoryview, base: int) -> tuple[int, int, int]:
        """Decode every complete record in `data` (which starts at file offset `base`).

        Returns (bytes consumed, status, need): `need` is the size of the
        unfinished record when known (a long string), else 0.
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
            try:
                p, done = self._record(buf, p, end, rec)
            except _NeedMore as more:
                return rec, fmt.STATUS_MORE, more.need
            except _Corrupt as bad:
                self._error = (bad.code, base + rec, base + bad.pos, bad.value)
                return rec, fmt.STATUS_ERROR, 0
            if done:
                return p, fmt.STATUS_DONE, 0

    def result(self) -> tuple[object, ...]:
        live: dict[int, list[int]] = {}
        for size, loc in self._heap.values():
            entry = live.setdefault(loc, [0, 0])
            entry[0] += 1
            entry[1] += size
        stats = [
            (etype, site, st[0], st[1], st[2], st[3])
            for etype in range(3)
            for site, st in sorted(self._stats[etype].items())
        ]
        primaries = [(key[0], key[1], key[2], pr[0], pr[1], pr[2], pr[3]) for key, pr in self._prim.items()]
        return (
            list(self._sites),
            list(self._chunks),
            list(self._cnames),
            list(self._locs),
            stats,
            primaries,
            [(loc, n, size) for loc, (n, size) in sorted(live.items())],
            sorted((no, addr, line) for no, (addr, line) in self._traces.items()),
            tuple(self._counts),
            (len(self._lfunc), len(self._cfunc)),
        )

    # -- records -----------------------------------------------------------------

    def _record(self, buf: bytes, p: int, end: int, rec: int) -> tuple[int, bool]:
        phase = self._phase
        if phase == fmt.PHASE_EVENTS:
            return self._event(buf, p, end, rec)
        if phase == fmt.PHASE_SYMTAB:
            return self._symtab_entry(buf, p, end, rec), False
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
        self._phase = fmt.PHASE_SYMTAB if phase == fmt.PHASE_SYMTAB_PROLOGUE else fmt.PHASE_EVENTS
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
        return self._symbol(kind, buf, p, end, rec, first_count=6)

    def _symbol(self, kind: int, buf: bytes, p: int, end: int, rec: int, first_count: int) -> int:
        """One symbol (Lua function, C function or trace), in the symbol table or mid-stream.

        `kind` is SYM_LFUNC, SYM_CFUNC or SYM_TRACE; the count it adds to is
        `first_count` plus that kind (the two places count separately).
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
            return self._symbol(kind, buf, p, end, rec, first_count=3), False
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
            st = self._stat(fmt.ETYPE_ALLOC, site, loc)
            st[0] += 1
            st[1] += nsize
            self._heap[naddr] = (nsize, loc)
            self._counts[0] += 1
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
            self._heap[naddr] = (nsize, loc)
            self._counts[1] += 1
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
            self._counts[2] += 1
        return p, False

    # -- symbols -----------------------------------------------------------------

    def _add_lfunc(self, addr: int, chunk: bytes) -> None:
        chunk_id = self._chunk_index.get(chunk)
        if chunk_id is None:
            chunk_id = self._chunk_index[chunk] = len(self._chunks)
            self._chunks.append(chunk)
        if self._lfunc.get(addr) != chunk_id:
            self._lfunc[addr] = chunk_id
            self._gen += 1

    def _add_cfunc(self, addr: int, name: bytes) -> None:
        name_id = self._cfunc.get(addr)
        if name_id is not None and self._cnames[name_id] == name:
            return  # the fork re-announces every C symbol before each C event: the common case
        if name_id is None:
            self._ckeys = None
        self._cfunc[addr] = len(self._cnames)
        self._cnames.append(name)
        self._gen += 1

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
            return fmt.RK_CSYM, key, self._cfunc[key]
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
        self._site_gen[site] = self._gen
        self._site_loc[site] = loc
        return loc

    def _stat(self, etype: int, site: int, loc: int) -> list[int]:
        table = self._stats[etype]
        st = table.get(site)
        if st is None:
            st = table[site] = [0, 0, 0, loc]
        return st

    def _link(self, etype: int, site: int, chunk: tuple[int, int], nsize: int) -> None:
        size, loc = chunk
        key = (etype, site, self._locs[loc][0])
        pr = self._prim.get(key)
        if pr is None:
            pr = self._prim[key] = [loc, 0, 0, 0]
        pr[1] += nsize
        pr[2] += size
        pr[3] += 1
