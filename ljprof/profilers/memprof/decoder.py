"""Reading a memprof file in pieces through one of the two decoders.

The decoders (`_cdecode.c`, `_pydecode.py`) hold the whole state and take the
stream piece by piece: `feed` decodes every complete record of a buffer and
says how many bytes it used; the rest (an unfinished record) is kept and fed
again with the next piece. So memory does not grow with the file, only with
what the profile holds (sites, symbols, live chunks, and the runs of C symbols
kept by content), and a file cut anywhere gives every record before the cut.
One exception to "every complete record": where a run of C symbols may repeat
a run seen before, a decoder waits for all of its bytes (STATUS_WAIT) to
compare it whole, unless told that no more data will come (`final`).

Strict about the header, lenient about the tail: a wrong magic or version
raises `MemprofFormatError`; running out of data, or corrupt data, after the
symbol table's prologue ends decoding with a `StreamEnd` that says where.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

from ljprof.errors import ConfigError
from ljprof.profilers.memprof import format as fmt
from ljprof.profilers.memprof._pydecode import PyDecoder

CHUNK_SIZE = 1 << 20
DECODER_ENV = "LJPROF_MEMPROF_DECODER"


class MemprofFormatError(ConfigError):
    """The file is not a memprof profile ljprof can read (wrong magic or version, empty)."""


class BinaryReader(Protocol):
    """A binary file object (open(..., "rb"), io.BytesIO)."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...

    def read(self, size: int = -1, /) -> bytes: ...


class DecoderImpl(Protocol):
    def feed(self, data: bytes | bytearray | memoryview, base: int, final: bool = False, /) -> tuple[int, int, int]:
        ...

    def phase(self) -> int: ...

    def error(self) -> tuple[int, int, int, int] | None: ...

    def result(self) -> tuple[object, ...]: ...

    def heap(self) -> list[tuple[int, int, int]]: ...


DecoderFactory = Callable[[int], DecoderImpl]  # max_windows -> a decoder


def _load_c() -> DecoderFactory | None:
    try:
        from ljprof.profilers.memprof import _cdecode
    except ImportError:  # not built (no compiler at install time): the Python decoder does the work
        return None
    return cast(DecoderFactory, _cdecode.Decoder)


_C_DECODER = _load_c()


def available_decoders() -> dict[str, DecoderFactory]:
    """The decoders this installation has, by name: "c" (when built) and "python"."""
    found: dict[str, DecoderFactory] = {}
    if _C_DECODER is not None:
        found["c"] = _C_DECODER
    found["python"] = PyDecoder
    return found


def pick_decoder(name: str | None = None) -> tuple[str, DecoderFactory]:
    """The decoder to use: `name`, else $LJPROF_MEMPROF_DECODER, else the C one when built."""
    found = available_decoders()
    wanted = name or os.environ.get(DECODER_ENV) or ""
    if not wanted:
        wanted = "c" if "c" in found else "python"
    if wanted not in found:
        if wanted == "c":
            raise ConfigError(
                "the C memprof decoder is not built in this installation (reinstall with a C compiler and "
                f"Python's headers: pip install -e .), or set {DECODER_ENV}=python"
            )
        raise ConfigError(f"unknown memprof decoder {wanted!r}: expected one of {', '.join(sorted(found))}")
    return wanted, found[wanted]


@dataclass(frozen=True)
class RawResult:
    """A decoder's state at the end, as plain data (see `build.py` for what it means)."""

    sites: list[tuple[int, int, int]]  # (addr, line, traceno) by site id
    chunks: list[bytes]  # Lua chunk names by id, in order of first appearance
    cnames: list[bytes]  # C symbol names by id (distinct)
    locs: list[tuple[int, int, int, int, int, int, int, int]]  # (site, rkind, a, b, c, d, comp, group) by loc id
    stats: list[tuple[int, int, int, int, int, int]]  # (etype, site, events, allocated, freed, loc)
    primaries: list[tuple[int, int, int, int, int, int, int]]  # (etype, site, chunk site, loc, alloc, freed, n)
    live: list[tuple[int, int, int]]  # (loc, chunks, bytes)
    traces: list[tuple[int, int, int]]  # (traceno, start proto, start line)
    counts: tuple[int, ...]  # by format.COUNT_*
    symbols: tuple[int, ...]  # distinct Lua function and C symbol addresses
    # Owners of live memory (format.py), by id: (first loc, allocs, frees, live chunks, live bytes, peak bytes)
    comps: list[tuple[int, int, int, int, int, int]]
    groups: list[tuple[int, int, int, int, int, int]]
    csyms: list[tuple[int, int, int]]  # the C symbols at the end: (addr, name id, 1 if it had other names), by addr
    windows: tuple[int, int, int]  # time windows (format.py): (markers, markers per window, windows)
    # Per group and window where it had events (format.py): (group, window, chunks placed, bytes placed,
    # its live bytes at the window's end, chunks and bytes of those placed then that are live at the end)
    cells: list[tuple[int, int, int, int, int, int, int]]

    @classmethod
    def from_decoder(cls, impl: DecoderImpl) -> RawResult:
        parts = cast(tuple[list[object], ...], impl.result())
        # The C decoder lists these in hash order: sort both decoders' output alike.
        return cls(
            sites=cast(list[tuple[int, int, int]], parts[0]),
            chunks=cast(list[bytes], parts[1]),
            cnames=cast(list[bytes], parts[2]),
            locs=cast(list[tuple[int, int, int, int, int, int, int, int]], parts[3]),
            stats=sorted(cast(list[tuple[int, int, int, int, int, int]], parts[4])),
            primaries=sorted(cast(list[tuple[int, int, int, int, int, int, int]], parts[5])),
            live=sorted(cast(list[tuple[int, int, int]], parts[6])),
            traces=sorted(cast(list[tuple[int, int, int]], parts[7])),
            counts=cast(tuple[int, ...], parts[8]),
            symbols=cast(tuple[int, ...], parts[9]),
            comps=cast(list[tuple[int, int, int, int, int, int]], parts[10]),
            groups=cast(list[tuple[int, int, int, int, int, int]], parts[11]),
            csyms=cast(list[tuple[int, int, int]], parts[12]),
            windows=cast(tuple[int, int, int], parts[13]),
            cells=sorted(cast(list[tuple[int, int, int, int, int, int, int]], parts[14])),
        )


@dataclass(frozen=True)
class StreamEnd:
    """How decoding ended."""

    complete: bool  # the end marker was read
    size: int  # bytes in the file
    offset: int  # after the end marker, or the start of the record that is cut or bad
    phase: int  # where the decoder was (format.PHASE_*)
    trailing_bytes: int = 0  # after the end marker
    header: int | None = None  # the first byte of the cut or bad record, when there is one
    error: tuple[int, int, int, int] | None = None  # corrupt data: (code, record, position, value)
    need: int = 0  # the cut record's size, when known (a string that runs past the end)


def _file_size(f: BinaryReader) -> int | None:
    """Bytes from the current position to the end, when the file object can tell."""
    fileno = getattr(f, "fileno", None)
    if fileno is not None:
        try:
            return os.fstat(fileno()).st_size
        except (OSError, ValueError):  # io.BytesIO and the like have no descriptor
            pass
    seekable = getattr(f, "seekable", None)
    if seekable is not None and seekable():
        here = f.tell()  # type: ignore[attr-defined]
        end = f.seek(0, os.SEEK_END)  # type: ignore[attr-defined]
        f.seek(here)  # type: ignore[attr-defined]
        return int(end - here)
    return None


def decode_stream(
    f: BinaryReader, name: str, *, decoder: str | None = None, chunk_size: int = CHUNK_SIZE,
    max_windows: int = fmt.MAX_WINDOWS, heap: list[tuple[int, int, int]] | None = None,
) -> tuple[RawResult, StreamEnd]:
    """Decode a whole memprof stream from a binary file object (`max_windows`: see format.py).

    `heap`, when given, gets the chunks live at the end: (addr, size, loc id) (to join with a heap snapshot)."""
    _kind, factory = pick_decoder(decoder)
    impl = factory(max_windows)
    known_size = _file_size(f)
    buf = bytearray(max(chunk_size, fmt.PROLOGUE_SIZE))
    filled = 0  # bytes of `buf` holding data
    base = 0  # file offset of buf[0]
    eof = False
    while True:
        if not eof:
            with memoryview(buf) as view:
                n = f.readinto(view[filled:])
            if not n:
                eof = True
            else:
                filled += n
        with memoryview(buf) as view:
            consumed, status, need = impl.feed(view[:filled], base, eof)
        if status not in (fmt.STATUS_MORE, fmt.STATUS_WAIT) or eof:
            break
        if status == fmt.STATUS_MORE and need and known_size is not None and base + consumed + need > known_size:
            # A string that runs past the end of the file: no use reading the rest. (`need` is
            # only set for strings, whose bytes cannot make the record corrupt.) One last feed
            # of what is left, as the end of the data. (A WAIT's `need` is only a wish: a run of
            # C symbols that may repeat one seen before, compared whole when all of it is there.)
            eof = True
        # Keep the unfinished record for the next round; make room when it fills the buffer.
        if consumed:
            buf[: filled - consumed] = buf[consumed:filled]
            base += consumed
            filled -= consumed
        if not eof and (filled == len(buf) or need > len(buf)):
            # To `need` when the file can hold it (checked above), else double: a corrupt length
            # on a stream of unknown size must not allocate more than the stream has.
            grown = bytearray(max(2 * len(buf), need if known_size is not None else 0))
            grown[:filled] = buf[:filled]
            buf = grown
    offset = base + consumed
    header = buf[consumed] if filled > consumed else None
    if heap is not None:
        heap.extend(impl.heap())
    if status == fmt.STATUS_DONE:
        trailing = filled - consumed + _drain(f, 0)
        end = StreamEnd(True, offset + trailing, offset, fmt.PHASE_DONE, trailing_bytes=trailing)
        return RawResult.from_decoder(impl), end
    size = known_size if known_size is not None else _drain(f, base + filled)
    if status == fmt.STATUS_ERROR:
        error = impl.error()
        assert error is not None
        if error[0] in fmt.HEADER_ERRORS:
            raise MemprofFormatError(_header_message(name, error, buf[consumed:filled]))
        end = StreamEnd(False, size, error[1], impl.phase(), header=header, error=error)
        return RawResult.from_decoder(impl), end
    phase = impl.phase()
    if size == 0:
        raise MemprofFormatError(
            f"{name}: the file is empty, not a memprof profile. memprof writes nothing when the program "
            "ends with os.exit(code) before the Lua state is closed: end it normally, with "
            "os.exit(code, true), or call misc.memprof.stop() first"
        )
    if phase == fmt.PHASE_SYMTAB_PROLOGUE:
        raise MemprofFormatError(
            f"{name}: only {size} bytes, cut inside the symbol table's prologue "
            f"(expected at least {fmt.PROLOGUE_SIZE}: 'ljs', version 3, 3 reserved bytes)"
        )
    end = StreamEnd(False, size, offset, phase, header=header, need=need)
    return RawResult.from_decoder(impl), end


def _drain(f: BinaryReader, start: int) -> int:
    """`start` plus the bytes left in `f`."""
    total = start
    while True:
        chunk = f.read(CHUNK_SIZE)
        if not chunk:
            return total
        total += len(chunk)


def _header_message(name: str, error: tuple[int, int, int, int], data: bytes | bytearray) -> str:
    code, record, pos, value = error
    if code == fmt.E_SYMTAB_MAGIC:
        return (
            f"{name}: not a memprof profile: it starts with {bytes(data[:8])!r}, expected b'ljs' "
            "(the symbol table that begins every file written by misc.memprof.start)"
        )
    if code == fmt.E_SYMTAB_VERSION:
        return (
            f"{name}: symbol table format version {value}, expected {fmt.SYMTAB_VERSION} "
            "(the version Tarantool's LuaJIT writes since 2.1.0-beta3 with C symbols and traces)"
        )
    if code == fmt.E_MEMPROF_MAGIC:
        return (
            f"{name}: byte {record}: expected the event stream's prologue b'ljm' after the symbol table, "
            f"found {bytes(data[:8])!r} (byte {pos} is 0x{value:02x})"
        )
    return f"{name}: byte {pos}: memprof event format version {value}, expected {fmt.MEMPROF_VERSION}"
