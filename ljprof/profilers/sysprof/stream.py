"""Decoding a sysprof stream (Tarantool's LuaJIT, src/lj_sysprof.h) into counted samples.

    stream   := symtab ('ljs' v3, src/lj_symtab.h) 'ljp' 0x02 0 0 0 (sample | event)* epilogue
    sample   := vmstate-byte ...   INTERP/GC/EXIT/RECORD/OPT/ASM: host frames, 0
                                   LFUNC/FFUNC/CFUNC: Lua frames (leaf first), 0x80, host frames, 0
                                   TRACE: traceno, start prototype, its first line
    event    := 10 proto | 11 C symbol | 12 trace   (created while profiling)
    epilogue := 0x80

Why a regular expression: a million samples decoded byte by byte in Python
take seconds. But a sample is a self-delimiting byte string, and samples of
the same stack are the same bytes; so runs of samples are matched by one
compiled pattern and split by `findall` (both in C), counted by `Counter`
(in C), and only the distinct byte strings are decoded in Python. The
symbols a sample names are resolved when its run ends, before the next
in-stream event can reuse an address for another prototype.

Strict about the header, lenient about the tail: a file that is not a sysprof
stream raises `SysprofFormatError`; a cut or corrupt tail ends decoding with
every sample before it, and `Decoded.reason` says where and why.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ljprof.errors import ConfigError

# the symbol table that starts the file is the one memprof's files start with (src/lj_symtab.h)
from ljprof.profilers.memprof.format import (
    PROLOGUE_SIZE,
    SYM_CFUNC,
    SYM_LFUNC,
    SYM_TRACE,
    SYMTAB_MAGIC,
    SYMTAB_VERSION,
)
from ljprof.profilers.memprof.format import SYM_FINAL_BIT as SYM_FINAL

SYSPROF_MAGIC = b"ljp"
SYSPROF_VERSION = 2  # its samples' prologue is as long as the symbol table's (PROLOGUE_SIZE)

# vmstates (src/lj_obj.h), as the sample header byte carries them
VMSTATES = ("INTERP", "LFUNC", "FFUNC", "CFUNC", "GC", "EXIT", "RECORD", "OPT", "ASM", "TRACE")
INTERP, LFUNC, FFUNC, CFUNC, GC, EXIT, RECORD, OPT, ASM, TRACE = range(10)
GUEST_STATES = (LFUNC, FFUNC, CFUNC)
EVENT_PROTO, EVENT_CFUNC, EVENT_TRACE = 10, 11, 12
EPILOGUE = 0x80
FRAME_LFUNC, FRAME_CFUNC, FRAME_FFUNC, FRAME_LUA_LAST = 1, 2, 3, 0x80

_U = rb"[\x80-\xff]*+[\x00-\x7f]"  # one ULEB128
_ADDR = rb"[\x80-\xff]*+[\x01-\x7f]"  # a nonzero ULEB128 (a host frame; 0 ends the host stack)
_HOST = rb"(?:" + _ADDR + rb")*+\x00"
_SAMPLE = (rb"(?:[\x01-\x03](?:\x01" + _U + _U + rb"|[\x02\x03]" + _U + rb")*+\x80" + _HOST
           + rb"|[\x00\x04-\x08]" + _HOST + rb"|\x09" + _U + _U + _U + rb")")
SAMPLE_RE = re.compile(_SAMPLE)
RUN_RE = re.compile(rb"(?:" + _SAMPLE + rb"){1,65536}+")  # at most this many at once: bounded memory


class SysprofFormatError(ConfigError):
    """The file is not a sysprof stream ljprof can read (wrong magic or version)."""


# Frames, as resolved at the time of the sample (names come later, see names.py):
#   ("L", chunk, firstline)        a Lua function
#   ("L?", proto address, line)    a Lua function the symbol table does not know
#   ("F", ffid)                    a fast function
#   ("C", address)                 a C function called from Lua
#   ("H", address)                 a host (native) frame
#   ("T", traceno, chunk, line)    a compiled trace, with its start function
Frame = tuple[object, ...]


@dataclass(frozen=True)
class Sample:
    """One distinct sample: its vmstate and frames, leaf first as in the stream."""

    vmstate: int
    lua: tuple[Frame, ...] = ()
    host: tuple[int, ...] = ()


@dataclass
class Decoded:
    """What a stream holds: distinct samples with counts, the C symbols, and how decoding ended."""

    samples: Counter[Sample] = field(default_factory=Counter)
    csyms: list[tuple[int, str]] = field(default_factory=list)  # C symbols, in stream order
    traces: dict[int, tuple[str, int]] = field(default_factory=dict)  # traceno -> (chunk, start line)
    complete: bool = False  # the epilogue was read
    size: int = 0
    offset: int = 0  # where decoding stopped
    reason: str = ""  # why it is not complete

    @property
    def total(self) -> int:
        return sum(self.samples.values())

    def by_vmstate(self) -> dict[str, int]:
        out = dict.fromkeys(VMSTATES, 0)
        for sample, n in self.samples.items():
            out[VMSTATES[sample.vmstate]] += n
        return out


class _Short(Exception):
    """The data ends inside a record."""


class _Bad(Exception):
    def __init__(self, pos: int, what: str) -> None:
        super().__init__(pos, what)
        self.pos = pos
        self.what = what


def _uleb(data: bytes, p: int) -> tuple[int, int]:
    value = shift = 0
    start = p
    while True:
        if p >= len(data):
            raise _Short
        byte = data[p]
        p += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, p
        shift += 7
        if p - start > 10:
            raise _Bad(start, "a number longer than 64 bits")


def _string(data: bytes, p: int) -> tuple[str, int]:
    length, p = _uleb(data, p)
    if p + length > len(data):
        raise _Short
    return data[p:p + length].decode("utf-8", "replace"), p + length


class _Decoder:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.out = Decoded(size=len(data))
        self.protos: dict[int, tuple[str, int]] = {}  # address -> (chunk, firstline)
        self.shapes: dict[bytes, Sample] = {}  # raw sample -> Sample, valid until an event changes symbols
        self.trace_protos: dict[int, tuple[int, int]] = {}  # traceno -> (start proto address, start line)

    def run(self) -> Decoded:
        data, out = self.data, self.out
        if not data:
            out.reason = "the file is empty: the target was killed before sysprof flushed its first buffer"
            return out
        if len(data) >= 4 and (data[:3] != SYMTAB_MAGIC):
            raise SysprofFormatError(f"not a sysprof stream: it starts with {data[:8]!r}, expected b'ljs' "
                                     "(the symbol table that begins every sysprof file)")
        if len(data) >= 4 and data[3] != SYMTAB_VERSION:
            raise SysprofFormatError(f"symbol table format version {data[3]}, expected {SYMTAB_VERSION}")
        p = 0
        try:
            p = self._symtab()
            p = self._prologue(p)
            self._samples(p)
        except _Short:
            out.reason = out.reason or f"cut at byte {out.offset} of {len(data)}: the target stopped mid-record"
        except _Bad as bad:
            out.offset = bad.pos
            out.reason = f"corrupt data at byte {bad.pos} of {len(data)}: {bad.what}"
        for traceno, (addr, line) in self.trace_protos.items():
            out.traces[traceno] = (self.protos.get(addr, (f"proto@{addr:#x}", 0))[0], line)
        return out

    def _symtab(self) -> int:
        data, out = self.data, self.out
        if len(data) < PROLOGUE_SIZE:
            out.reason = f"only {len(data)} bytes: cut inside the symbol table's prologue"
            raise _Short
        p = PROLOGUE_SIZE
        while True:
            out.offset = p
            if p >= len(data):
                out.reason = f"cut inside the symbol table at byte {p}: no samples"
                raise _Short
            header = data[p]
            if header == SYM_FINAL:
                return p + 1
            kind = header & 3
            try:
                if kind == SYM_LFUNC:
                    q = self._proto(p + 1)
                elif kind == SYM_CFUNC:
                    q = self._cfunc(p + 1)
                elif kind == SYM_TRACE:
                    q = self._trace(p + 1)
                else:
                    raise _Bad(p, f"unknown symbol table record 0x{header:02x}")
            except _Short:
                out.reason = f"cut inside the symbol table at byte {p}: no samples"
                raise
            p = q

    # A prototype, a C function and a trace are written alike in the symbol table and, when they
    # appear during the run, as events among the samples: one reader each, for both.
    def _proto(self, p: int) -> int:
        addr, p = _uleb(self.data, p)
        chunk, p = _string(self.data, p)
        line, p = _uleb(self.data, p)
        self.protos[addr] = (chunk, line)
        return p

    def _cfunc(self, p: int) -> int:
        addr, p = _uleb(self.data, p)
        name, p = _string(self.data, p)
        self.out.csyms.append((addr, name))
        return p

    def _trace(self, p: int) -> int:
        traceno, p = _uleb(self.data, p)
        addr, p = _uleb(self.data, p)
        line, p = _uleb(self.data, p)
        self.trace_protos[traceno] = (addr, line)  # resolved at the end: a trace may come before its proto
        return p

    def _prologue(self, p: int) -> int:
        data = self.data
        self.out.offset = p
        if len(data) < p + PROLOGUE_SIZE:
            self.out.reason = f"cut at byte {len(data)}, in sysprof's prologue after the symbol table: no samples"
            raise _Short
        if data[p:p + 3] != SYSPROF_MAGIC:
            raise _Bad(p, f"expected sysprof's prologue b'ljp' after the symbol table, found {data[p:p + 3]!r}")
        if data[p + 3] != SYSPROF_VERSION:
            raise _Bad(p + 3, f"sysprof format version {data[p + 3]}, expected {SYSPROF_VERSION}")
        return p + PROLOGUE_SIZE

    def _samples(self, p: int) -> None:
        data, out = self.data, self.out
        raw: Counter[bytes] = Counter()
        end = len(data)
        while True:
            out.offset = p
            m = RUN_RE.match(data, p)
            if m is not None:
                raw.update(SAMPLE_RE.findall(data, p, m.end()))
                p = m.end()
                continue
            self._resolve(raw)
            raw.clear()
            out.offset = p
            if p >= end:
                out.reason = (f"no end marker: cut after byte {p} (the target was killed, or sysprof was not "
                              "stopped); every sample before it is counted")
                return
            header = data[p]
            if header == EPILOGUE:
                out.complete = True
                out.offset = p + 1
                if p + 1 < end:
                    out.reason = f"{end - p - 1} bytes after the end marker"
                return
            if header == EVENT_PROTO:
                q = self._proto(p + 1)
                self.shapes.clear()  # an address may now name another prototype
            elif header == EVENT_CFUNC:
                q = self._cfunc(p + 1)
            elif header == EVENT_TRACE:
                q = self._trace(p + 1)
                self.shapes.clear()
            elif header <= TRACE:
                self._sample(p)  # raises _Short or _Bad where the sample is cut or broken
                raise _Bad(p, "a sample in a form sysprof does not write (a number with padding bytes)")
            else:
                raise _Bad(p, f"unknown record header 0x{header:02x}")
            p = q

    def _resolve(self, raw: Counter[bytes]) -> None:
        samples = self.out.samples
        for blob, n in raw.items():
            shape = self.shapes.get(blob)
            if shape is None:
                shape, _ = self._sample(0, blob)
                self.shapes[blob] = shape
            samples[shape] += n

    def _sample(self, p: int, data: bytes | None = None) -> tuple[Sample, int]:
        """Decode one sample at `p` the slow way (raises _Short or _Bad where it is not whole and valid)."""
        data = self.data if data is None else data
        vmstate = data[p]
        p += 1
        if vmstate == TRACE:
            traceno, p = _uleb(data, p)
            addr, p = _uleb(data, p)
            line, p = _uleb(data, p)
            chunk, first = self.protos.get(addr, (f"proto@{addr:#x}", line))
            return Sample(vmstate, (("T", traceno, chunk, first),)), p
        lua: list[Frame] = []
        if vmstate in GUEST_STATES:
            while True:
                if p >= len(data):
                    raise _Short
                kind = data[p]
                if kind == FRAME_LUA_LAST:
                    p += 1
                    break
                if kind == FRAME_LFUNC:
                    addr, p = _uleb(data, p + 1)
                    line, p = _uleb(data, p)
                    known = self.protos.get(addr)
                    lua.append(("L", known[0], known[1]) if known else ("L?", addr, line))
                elif kind == FRAME_CFUNC:
                    addr, p = _uleb(data, p + 1)
                    lua.append(("C", addr))
                elif kind == FRAME_FFUNC:
                    ffid, p = _uleb(data, p + 1)
                    lua.append(("F", ffid))
                else:
                    raise _Bad(p, f"unknown Lua frame type 0x{kind:02x}")
        host: list[int] = []
        while True:
            addr, p = _uleb(data, p)
            if addr == 0:
                break
            host.append(addr)
            if len(host) > 4096:
                raise _Bad(p, "a host stack deeper than 4096 frames")
        return Sample(vmstate, tuple(lua), tuple(host)), p


def decode(data: bytes) -> Decoded:
    """Decode a whole sysprof stream held in memory."""
    return _Decoder(bytes(data)).run()
