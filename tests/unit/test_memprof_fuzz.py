"""Fuzzing the memprof decoders: cut, corrupted and made-up streams.

Every input must end in a clear error (MemprofFormatError) or a profile, the
same one the reference decoder finds, with both decoders (the C one included:
a crash would take the test run down with it), however the stream is split
into pieces. A watchdog ends the run with a traceback if a decoder hangs.
"""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from ljprof.profilers.memprof import available_decoders
from ljprof.profilers.memprof.decoder import decode_stream
from tests.unit.fuzzing import FUZZ, watchdog  # noqa: F401 - watchdog is an autouse fixture
from tests.unit.test_memprof_parse import (
    outcome,
    owners_outcome,
    reference_outcome,
    reference_owners,
    reference_windows,
    windows_outcome,
)
from tests.unit.test_memprof_reference import Reader, fixture_bytes

DECODERS = list(available_decoders())


def check(data: bytes, chunk_size: int | None = None, max_windows: tuple[int, ...] = (512, 2)) -> None:
    expected = reference_outcome(data)
    owners = reference_owners(data)
    windows = {m: reference_windows(data, m) for m in max_windows}
    for decoder in DECODERS:
        assert outcome(data, decoder) == expected, decoder
        assert owners_outcome(data, decoder) == owners, decoder
        for m in max_windows:
            assert windows_outcome(data, decoder, max_windows=m) == windows[m], (decoder, m)
        if chunk_size is not None:
            assert outcome(data, decoder, chunk_size) == expected, (decoder, chunk_size)
            assert owners_outcome(data, decoder, chunk_size) == owners, (decoder, chunk_size)
            assert windows_outcome(data, decoder, chunk_size) == windows[max_windows[0]], (decoder, chunk_size)
    if "c" in DECODERS and expected != "rejected":
        c = decode_stream(io.BytesIO(data), "x", decoder="c")
        py = decode_stream(io.BytesIO(data), "x", decoder="python")
        assert c == py


# -- an encoder for made-up streams ----------------------------------------------------------------


def uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def string(s: bytes) -> bytes:
    return uleb(len(s)) + s


U64 = 2**64 - 1
ADDRS = [0x10, 0x20, 0x30, 0x40, U64 - 15]
PROTOS = [0, 0x1000, 0x2000, 0x3000]
CSYMS = [0, 0x5000, 0x5100, 0x6000, U64]
CHUNKS = [b"@a.lua", b"@b.lua", b"x = 1\ny = 2\n", b"\xff\xfe", b"", b"@a.lua\n\n", b"=ljprof_marker"]
NAMES = [b"malloc", b"free", b"f", b""]
sizes = st.one_of(st.integers(0, 300), st.sampled_from([2**63, U64]))
lines = st.one_of(st.integers(0, 5), st.just(U64))
traces = st.integers(0, 4)

sources = st.one_of(
    st.just(("int",)),
    st.tuples(st.just("lua"), st.sampled_from(PROTOS), lines),
    st.tuples(st.just("c"), st.sampled_from(CSYMS + PROTOS)),
    st.tuples(st.just("trace"), traces),
)
symbols = st.one_of(
    st.tuples(st.just("lua"), st.sampled_from(PROTOS), st.sampled_from(CHUNKS), lines),
    st.tuples(st.just("c"), st.sampled_from(CSYMS), st.sampled_from(NAMES)),
    st.tuples(st.just("trace"), traces, st.sampled_from(PROTOS), lines),
)
events = st.one_of(
    st.tuples(st.just("sym"), symbols),
    st.tuples(st.just("alloc"), sources, st.sampled_from(ADDRS), sizes),
    st.tuples(st.just("realloc"), sources, st.sampled_from(ADDRS), sizes, st.sampled_from(ADDRS), sizes),
    st.tuples(st.just("free"), sources, st.sampled_from(ADDRS), sizes),
)


def encode_symbol(sym: tuple[object, ...], header: int) -> bytes:
    kind = sym[0]
    if kind == "lua":
        _, addr, chunk, line = sym
        return bytes([header]) + uleb(addr) + string(chunk) + uleb(line)  # type: ignore[arg-type]
    if kind == "c":
        _, addr, name = sym
        return bytes([header]) + uleb(addr) + string(name)  # type: ignore[arg-type]
    _, traceno, addr, line = sym
    return bytes([header]) + uleb(traceno) + uleb(addr) + uleb(line)  # type: ignore[arg-type]


SYMTAB_HEADERS = {"lua": 0, "c": 1, "trace": 2}
EVENT_SYMBOL_HEADERS = {"lua": 0x08, "c": 0x0C, "trace": 0x10}
SOURCE_BITS = {"int": 0x04, "lua": 0x08, "c": 0x0C, "trace": 0x10}


def encode_source(source: tuple[object, ...], aevent: int) -> bytes:
    out = bytes([SOURCE_BITS[str(source[0])] | aevent])
    return out + b"".join(uleb(int(v)) for v in source[1:])  # type: ignore[call-overload]


def encode_event(ev: tuple[object, ...]) -> bytes:
    kind = ev[0]
    if kind == "sym":
        sym = ev[1]
        return encode_symbol(sym, EVENT_SYMBOL_HEADERS[sym[0]])  # type: ignore[index, arg-type]
    aevent = {"alloc": 1, "free": 2, "realloc": 3}[str(kind)]
    return encode_source(ev[1], aevent) + b"".join(uleb(v) for v in ev[2:])  # type: ignore[arg-type]


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    out = b"ljs\x03\x00\x00\x00"
    for sym in draw(st.lists(symbols, max_size=8)):
        out += encode_symbol(sym, SYMTAB_HEADERS[str(sym[0])])
    out += b"\x80ljm\x03\x00\x00\x00"
    for ev in draw(st.lists(events, max_size=40)):
        out += encode_event(ev)
    if draw(st.booleans()):
        out += b"\x80"
    return out


@st.composite
def repeated_runs(draw: st.DrawFn) -> bytes:
    """Streams where a few runs of C symbols come back, as the fork's re-dumps do.

    The runs may share addresses (one run then changes what another set) and
    give an address several names (a library's imports all sit at its base):
    a run seen before may be skipped only when it would change nothing.
    """
    entries = st.tuples(st.sampled_from(CSYMS[:4]), st.sampled_from(NAMES))
    runs = draw(st.lists(st.lists(entries, min_size=1, max_size=4), min_size=1, max_size=3))
    out = b"ljs\x03\x00\x00\x00\x80ljm\x03\x00\x00\x00"
    for _ in range(draw(st.integers(1, 14))):
        which = draw(st.integers(0, len(runs)))
        if which < len(runs):
            out += b"".join(encode_symbol(("c", addr, name), 0x0C) for addr, name in runs[which])
        else:
            out += encode_event(draw(events))
        if draw(st.booleans()):
            out += encode_event(("alloc", ("c", draw(st.sampled_from(CSYMS[:4]) | st.just(0x5050))),
                                 draw(st.sampled_from(ADDRS)), draw(st.integers(0, 300))))
    if draw(st.booleans()):
        out += b"\x80"
    return out


MARKER_PROTO = 0x7000
MARKER = ("alloc", ("lua", MARKER_PROTO, 1))


@st.composite
def windowed(draw: st.DrawFn) -> bytes:
    """Streams with many markers (the harness's: an alloc at "=ljprof_marker":1), to merge windows.

    The marker's function is in the symbol table or announced mid-stream; the
    other events free, move and allocate chunks across windows.
    """
    marker_sym = ("lua", MARKER_PROTO, b"=ljprof_marker", 1)
    symtab = draw(st.lists(symbols, max_size=4))
    announced = draw(st.booleans())
    if not announced:
        symtab.append(marker_sym)
    out = b"ljs\x03\x00\x00\x00"
    out += b"".join(encode_symbol(sym, SYMTAB_HEADERS[str(sym[0])]) for sym in symtab)
    out += b"\x80ljm\x03\x00\x00\x00"
    if announced:
        out += encode_symbol(marker_sym, EVENT_SYMBOL_HEADERS["lua"])
    for _ in range(draw(st.integers(0, 40))):
        if draw(st.integers(0, 2)) == 0:
            out += encode_event((*MARKER, draw(st.sampled_from(ADDRS)), draw(st.integers(0, 64))))
        else:
            out += encode_event(draw(events))
    if draw(st.booleans()):
        out += b"\x80"
    return out


def compact(data: bytes, keep_c: int = 16) -> bytes:
    """A fixture with most of its C symbols left out of the symbol table, to fuzz faster."""
    r = Reader(data)
    r.pos = 7
    out = bytearray(data[:7])
    kept = 0
    while True:
        start = r.pos
        header = r.byte()
        if header & 0x80:
            break
        kind = header & 3
        if kind == 0:
            r.uleb(), r.string(), r.uleb()
        elif kind == 1:
            r.uleb(), r.string()
            kept += 1
            if kept > keep_c:
                continue
        else:
            r.uleb(), r.uleb(), r.uleb()
        out += data[start:r.pos]
    return bytes(out) + data[r.pos - 1:]


BASES = {name: compact(fixture_bytes(name)) for name in ("leak.bin", "loadstring.bin", "traces.bin")}
chunk_sizes = st.sampled_from([1, 2, 3, 8, 61])


# -- the properties --------------------------------------------------------------------------------


@FUZZ
@given(data=streams(), chunk_size=chunk_sizes)
def test_made_up_streams(data: bytes, chunk_size: int) -> None:
    check(data, chunk_size)


@FUZZ
@given(data=streams(), cut=st.integers(0, 10_000))
def test_made_up_streams_cut_anywhere(data: bytes, cut: int) -> None:
    check(data[: cut % (len(data) + 1)])


@st.composite
def mutations(draw: st.DrawFn, base: bytes, start: int = 0) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(start, max(start, len(data) - 1)))
        op = draw(st.sampled_from(["set", "flip", "insert", "delete"]))
        if op == "set" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif op == "flip" and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=12))
        elif pos < len(data):
            del data[pos:pos + draw(st.integers(1, 12))]
    return bytes(data)


@FUZZ
@given(data=windowed(), chunk_size=chunk_sizes)
def test_windows_merged_two_by_two(data: bytes, chunk_size: int) -> None:
    check(data, chunk_size, max_windows=(512, 2, 3, 4, 7))


@FUZZ
@given(data=windowed(), cut=st.integers(0, 10_000))
def test_windows_cut_anywhere(data: bytes, cut: int) -> None:
    check(data[: cut % (len(data) + 1)], chunk_size=3, max_windows=(512, 3))


@FUZZ
@given(data=repeated_runs(), chunk_size=chunk_sizes)
def test_repeated_runs_of_c_symbols(data: bytes, chunk_size: int) -> None:
    check(data, chunk_size)


@FUZZ
@given(data=repeated_runs(), cut=st.integers(0, 10_000))
def test_repeated_runs_of_c_symbols_cut_anywhere(data: bytes, cut: int) -> None:
    check(data[: cut % (len(data) + 1)], chunk_size=5)


@FUZZ
@given(data=st.data(), chunk_size=chunk_sizes)
def test_corrupted_made_up_streams(data: st.DataObject, chunk_size: int) -> None:
    base = data.draw(streams())
    check(data.draw(mutations(base)), chunk_size)


@FUZZ
@given(data=st.data(), name=st.sampled_from(sorted(BASES)))
def test_corrupted_fixtures(data: st.DataObject, name: str) -> None:
    base = BASES[name]
    events_start = base.index(b"\x80ljm\x03\x00\x00\x00")
    check(data.draw(mutations(base, start=events_start - 40)))


@FUZZ
@given(name=st.sampled_from(sorted(BASES)), cut=st.integers(0, 2**31))
def test_fixtures_cut_anywhere(name: str, cut: int) -> None:
    base = BASES[name]
    check(base[: cut % (len(base) + 1)], chunk_size=7)


@FUZZ
@given(tail=st.binary(max_size=300), after_symtab=st.booleans())
def test_random_bytes_after_the_prologues(tail: bytes, after_symtab: bool) -> None:
    head = b"ljs\x03\x00\x00\x00" + (b"\x80ljm\x03\x00\x00\x00" if after_symtab else b"")
    check(head + tail, chunk_size=3)


@FUZZ
@given(data=st.binary(max_size=64))
def test_random_bytes(data: bytes) -> None:
    check(data)


def test_the_compact_bases_are_still_good_profiles() -> None:
    for name, base in BASES.items():
        assert outcome(base, DECODERS[0]) == reference_outcome(base), name
        assert len(base) < 40_000, name


def test_a_ten_byte_number_that_overflows_is_corrupt_data() -> None:
    head = b"ljs\x03\x00\x00\x00\x80ljm\x03\x00\x00\x00"
    fits = head + bytes([0x05]) + uleb(U64) + uleb(1) + b"\x80"
    overflows = head + bytes([0x05]) + b"\xff" * 9 + b"\x02" + uleb(1) + b"\x80"
    too_long = head + bytes([0x05]) + b"\x80" * 10 + b"\x00" + uleb(1) + b"\x80"
    for decoder in DECODERS:
        assert outcome(fits, decoder) == reference_outcome(fits)
        assert outcome(fits, decoder)["ending"] == ("complete", len(fits), 0)  # type: ignore[index]
        assert outcome(overflows, decoder)["ending"] == ("corrupt", len(head), 0)  # type: ignore[index]
        assert outcome(too_long, decoder)["ending"] == ("corrupt", len(head), 0)  # type: ignore[index]


def test_sums_beyond_64_bits_are_exact() -> None:
    head = b"ljs\x03\x00\x00\x00\x80ljm\x03\x00\x00\x00"
    ev = bytes([0x05]) + uleb(0x10) + uleb(U64)  # INTERNAL allocs of 2**64 - 1 bytes at one address
    data = head + ev * 3 + b"\x80"
    for decoder in DECODERS:
        result = outcome(data, decoder)
        assert result == reference_outcome(data)
        assert result["allocations"] == [("INTERNAL", 3, 3 * U64, 0, ())]  # type: ignore[index]
