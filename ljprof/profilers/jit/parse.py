"""jit.v and jit.dump text -> TraceLog.

The formats are LuaJIT's own (src/jit/v.lua and src/jit/dump.lua, the same in
upstream 2.1 and Tarantool's fork):

    jit.v     [TRACE   3 traces.lua:30 loop]
              [TRACE   4 (3/1) traces.lua:31 -> 3]
              [TRACE --- traces.lua:15 -- NYI: bytecode 51 at traces.lua:16]
              [TRACE flush]
    jit.dump  ---- TRACE 4 start 3/1 traces.lua:31
              ---- TRACE 4 stop -> 3
              ---- TRACE 7 abort traces.lua:16 -- NYI: bytecode 51
              ---- TRACE flush
              (and the bytecode, IR, snapshots and machine code in between)

Upstream prints a bytecode's number in "NYI: bytecode 51", the fork its padded
name ("FNEW  "), loom both ("51 (FNEW)"): all become "NYI: bytecode FNEW".
Both recorders flush after each event, so a file cut by a kill holds every
event but the last line; a last line without its newline is dropped and the
log is marked cut.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence

from ljprof.profilers.jit.model import LINK_TYPES, Abort, Trace, TraceLog

# LuaJIT 2.1's bytecode names in order (jit.vmdef.bcnames), for logs recorded
# without the harness's status file, which carries the image's own list.
BCNAMES_21 = tuple(str.split(
    "ISLT ISGE ISLE ISGT ISEQV ISNEV ISEQS ISNES ISEQN ISNEN ISEQP ISNEP ISTC ISFC IST ISF ISTYPE ISNUM "
    "MOV NOT UNM LEN ADDVN SUBVN MULVN DIVVN MODVN ADDNV SUBNV MULNV DIVNV MODNV ADDVV SUBVV MULVV DIVVV "
    "MODVV POW CAT KSTR KCDATA KSHORT KNUM KPRI KNIL UGET USETV USETS USETN USETP UCLO FNEW TNEW TDUP GGET "
    "GSET TGETV TGETS TGETB TGETR TSETV TSETS TSETB TSETM TSETR CALLM CALL CALLMT CALLT ITERC ITERN VARG "
    "ISNEXT RETM RET RET0 RET1 FORI JFORI FORL IFORL JFORL ITERL IITERL JITERL LOOP ILOOP JLOOP JMP FUNCF "
    "IFUNCF JFUNCF FUNCV IFUNCV JFUNCV FUNCC FUNCCW"))

# A location as jit.funcinfo().loc prints it. A string chunk's short name may
# hold spaces ([string "local x = ..."]:3); anything else is one word:
# file.lua:12, 0x7ff27dca4ff0:2 (a chunk loadstring named by its code), pairs, C:7f01.
_LOC = r'\[string ".*?"\]:\d+|\S+'
_V_LINE = re.compile(rf'\[TRACE\s+(?P<n>\d+|---) (?:\((?P<p>\d+)/(?P<e>\d+|stitch)\) )?(?P<loc>{_LOC})(?P<rest>.*)\]')
_V_ABORT = re.compile(rf' -- (?P<reason>.*?)(?:\s+at (?P<at>{_LOC}))?')
_V_LINK = re.compile(r' -> (?P<to>\d+)(?: (?P<type>\S+))?')
_V_STITCH = re.compile(rf' stitch (?:{_LOC})')
_D_START = re.compile(rf' (?:(?P<p>\d+)/(?P<e>\d+|stitch) )?(?P<loc>{_LOC})')
_D_ABORT = re.compile(rf' (?P<loc>{_LOC}) -- (?P<reason>.*)')
_D_STOP = re.compile(r' -> (?P<a>\S+)(?: (?P<b>\S+))?')
_NYI_BC = re.compile(r"NYI: bytecode (\d+)(?: \((\w+)\))?")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


class Namer:
    """Stable short names for locations.

    Files get a leading @ (`@traces.lua:16`, as memprof's reports name lines).
    Chunks that loadstring named by their code get a name that is the same in
    every run: `[string 1a2b3c]` from a hash of the code as printed, or
    `[chunk N]` in order of first appearance when the log printed only the
    chunk's address (which changes from run to run).
    """

    def __init__(self) -> None:
        self.chunks: dict[str, str] = {}
        self._by_raw: dict[str, str] = {}
        self._cache: dict[str, str] = {}

    def __call__(self, loc: str) -> str:
        named = self._cache.get(loc)
        if named is None:
            named = self._cache[loc] = self._name(loc)
        return named

    def _name(self, loc: str) -> str:
        chunk, sep, line = loc.rpartition(":")
        if not sep or not line.isdigit():
            return loc  # a fast function (pairs), a C function (C:7f01) or (?)
        return f"{self._chunk(chunk)}:{line}"

    def _chunk(self, chunk: str) -> str:
        if chunk.startswith("[string \"") or _ADDRESS.fullmatch(chunk):
            if chunk not in self._by_raw:
                if chunk.startswith("[string \""):
                    digest = hashlib.sha1(_ADDRESS.sub("0x", chunk).encode()).hexdigest()[:6]
                    name = f"[string {digest}]"
                else:
                    name = f"[chunk {sum(1 for n in self.chunks if n.startswith('[chunk '))+ 1}]"
                self._by_raw[chunk] = name
                self.chunks[name] = chunk
            return self._by_raw[chunk]
        if chunk.endswith(".lua") or "/" in chunk or chunk.startswith("..."):
            return "@" + chunk
        return chunk  # =name chunks: [string], stdin, (command line)


def reason_text(reason: str, bcnames: Sequence[str] = BCNAMES_21) -> str:
    """One spelling per abort reason: bytecode names, no padding."""
    reason = " ".join(reason.split())
    m = _NYI_BC.fullmatch(reason)
    if m:
        name = m.group(2) or (bcnames[int(m.group(1))] if int(m.group(1)) < len(bcnames) else m.group(1))
        return f"NYI: bytecode {name}"
    return reason


def _lines(data: bytes, prefix: bytes) -> Iterator[str]:
    """The complete lines that start with `prefix` (a last line without its newline is left out)."""
    pattern = re.compile(rb"^" + re.escape(prefix) + rb"[^\n]*\n", re.M)
    for m in pattern.finditer(data):
        yield m.group().decode("utf-8", "replace").rstrip("\r\n")


class _Builder:
    def __init__(self, source: str, bcnames: Sequence[str]) -> None:
        self.log = TraceLog(source)
        self.name = Namer()
        self.bcnames = bcnames
        self.epoch = 0
        self.generations: dict[int, int] = {}

    def flush(self) -> None:
        self.log.flushes += 1
        self.epoch += 1
        self.generations = {}

    def trace(self, number: int, start: str, parent: str | None, exit_: str | None, link: str,
              link_to: int | None) -> None:
        generation = self.generations.get(number, 0)
        self.generations[number] = generation + 1
        stitched = exit_ == "stitch"
        self.log.traces.append(Trace(self.epoch, number, generation, self.name(start),
                                     int(parent) if parent else None,
                                     int(exit_) if exit_ and not stitched else None, link, link_to))

    def abort(self, start: str, parent: str | None, location: str, reason: str) -> None:
        self.log.aborts.append(Abort(self.epoch, self.name(start), int(parent) if parent else None,
                                     self.name(location), reason_text(reason, self.bcnames)))

    def done(self, data: bytes) -> TraceLog:
        self.log.cut = bool(data) and not data.endswith(b"\n")
        self.log.chunks = self.name.chunks
        return self.log


def parse_v(data: bytes, bcnames: Sequence[str] = BCNAMES_21, source: str = "jit.v") -> TraceLog:
    """jit.v's one line per trace event -> TraceLog."""
    b = _Builder(source, bcnames)
    for line in _lines(data, b"[TRACE "):
        if line == "[TRACE flush]":
            b.flush()
            continue
        m = _V_LINE.fullmatch(line)
        if not m:
            continue
        rest, loc, parent, exit_ = m["rest"], m["loc"], m["p"], m["e"]
        if m["n"] == "---":
            a = _V_ABORT.fullmatch(rest)
            if a:
                b.abort(loc, parent, a["at"] or loc, a["reason"])
            continue
        number = int(m["n"])
        if rest == " -- fallback to interpreter":
            b.trace(number, loc, parent, exit_, "interpreter", None)
        elif _V_STITCH.fullmatch(rest):
            b.trace(number, loc, parent, exit_, "stitch", None)
        elif link := _V_LINK.fullmatch(rest):
            b.trace(number, loc, parent, exit_, link["type"] or "root", int(link["to"]))
        elif rest.strip() in LINK_TYPES:
            b.trace(number, loc, parent, exit_, rest.strip(), None)
    return b.done(data)


def parse_dump(data: bytes, bcnames: Sequence[str] = BCNAMES_21) -> TraceLog:
    """jit.dump's text (plain, `T`) -> TraceLog, from its `---- TRACE n start|stop|abort` lines."""
    b = _Builder("jit.dump", bcnames)
    started: dict[int, tuple[str, str | None, str | None]] = {}
    for line in _lines(data, b"---- TRACE "):
        if line == "---- TRACE flush":
            b.flush()
            started.clear()
            continue
        words = line.split(" ", 4)
        if len(words) < 4 or not words[2].isdigit():
            continue
        number, what, rest = int(words[2]), words[3], line[len(" ".join(words[:4])):]
        if what == "start" and (m := _D_START.fullmatch(rest)):
            started[number] = (m["loc"], m["p"], m["e"])
        elif what == "abort" and (m := _D_ABORT.fullmatch(rest)):
            start, parent, _ = started.pop(number, (m["loc"], None, None))
            b.abort(start, parent, m["loc"], m["reason"])
        elif what == "stop" and (m := _D_STOP.fullmatch(rest)) and number in started:
            start, parent, exit_ = started.pop(number)
            first, second = m["a"], m["b"]
            if first.isdigit():
                b.trace(number, start, parent, exit_, second or "root", int(first))
            else:
                b.trace(number, start, parent, exit_, first, None)
    log = b.done(data)
    if started:
        log.open_start = b.name(next(reversed(started.values()))[0])
    return log
