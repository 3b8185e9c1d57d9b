"""The memprof parser on recorded fixtures: equal to the reference decoder, exact numbers, cuts, errors."""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path

import pytest

from ljprof.errors import ConfigError
from ljprof.profilers.memprof import MemprofFormatError, MemprofProfile, available_decoders, parse_file, parse_stream
from ljprof.profilers.memprof import format as fmt
from ljprof.profilers.memprof.decoder import RawResult, decode_stream
from tests.unit.test_memprof_reference import (
    COMPLETE,
    CUT,
    HeaderError,
    canonical,
    canonical_owners,
    canonical_windows,
    fixture_bytes,
    reference_decode,
)

DECODERS = list(available_decoders())
ALL_FIXTURES = COMPLETE + CUT


def parse_bytes(data: bytes, decoder: str, name: str = "test.bin") -> MemprofProfile:
    return parse_stream(io.BytesIO(data), name, decoder=decoder)


def model_canonical(p: MemprofProfile) -> dict[str, object]:
    """The model's findings in the reference's order-free form (see test_memprof_reference.canonical)."""

    def section(stats: tuple[object, ...]) -> list[object]:
        return sorted(
            (s.location.text, s.events, s.allocated, s.freed,
             tuple(sorted((o.location.text, o.allocated, o.freed, o.count) for o in s.overrides)))
            for s in stats  # type: ignore[attr-defined]
        )

    if p.cut is None:
        ending = ("complete", p.size - p.trailing_bytes, p.trailing_bytes)
    else:
        ending = ("corrupt" if p.cut.corrupt else "cut", p.cut.offset, 0)
    return {
        "allocations": section(p.allocations),
        "reallocations": section(p.reallocations),
        "deallocations": section(p.deallocations),
        "heap_summary": sorted((h.location.text, h.holds, h.allocs, h.frees) for h in p.heap_summary),
        "live": sorted((x.location.text, x.chunks, x.bytes) for x in p.live),
        "aliases": [(a.name, a.source) for a in p.aliases],
        "counts": (p.counts.allocs, p.counts.reallocs, p.counts.frees),
        "ending": ending,
    }


def outcome(data: bytes, decoder: str, chunk_size: int | None = None) -> object:
    """What ljprof makes of `data`: "rejected", or the canonical form of the profile."""
    try:
        if chunk_size is None:
            profile = parse_bytes(data, decoder)
        else:
            from ljprof.profilers.memprof.build import build_profile

            raw, end = decode_stream(io.BytesIO(data), "test.bin", decoder=decoder, chunk_size=chunk_size)
            profile = build_profile(raw, end, "test.bin")
    except MemprofFormatError:
        return "rejected"
    return model_canonical(profile)


def owner_key(raw: RawResult, loc: int, level: int) -> tuple[object, ...]:
    """The comp (level 0) or group (1) of a decoder's loc, keyed as the reference keys it (see owners_of)."""
    site, rkind, a, b, c, d = raw.locs[loc][:6]
    k = fmt.owner_keys((rkind, a, b, c, d), raw.sites[site])[level]
    kind = k[0]
    if kind == fmt.OWNER_INTERNAL:
        return ("internal",)
    if kind == fmt.OWNER_LUA:
        return ("line", raw.chunks[k[1]], k[2])
    if kind == fmt.OWNER_C:
        return ("c", k[1])
    if kind == fmt.OWNER_TRACE:
        return ("trace", k[1])
    if kind == fmt.OWNER_TRACE_LUA:
        return ("trace", k[1], raw.chunks[k[2]], k[3])
    return ("trace at", k[1], k[2], k[3])


def raw_owners(raw: RawResult) -> dict[str, object]:
    """A decoder's owners of live memory, keyed as the reference keys them (see owners_of)."""
    c = raw.counts
    return {
        # An owner of nothing (a site that only freed) is not one.
        "comps": {owner_key(raw, o[0], 0): o[1:] for o in raw.comps if o[1]},
        "groups": {owner_key(raw, o[0], 1): o[1:] for o in raw.groups if o[1]},
        "counts": {"unknown_frees": c[fmt.COUNT_UNKNOWN_FREES], "unknown_reallocs": c[fmt.COUNT_UNKNOWN_REALLOCS],
                   "replaced": c[fmt.COUNT_REPLACED], "symbol_bytes": c[fmt.COUNT_SYMBOL_BYTES],
                   "c_runs": c[fmt.COUNT_C_RUNS]},
    }


def raw_windows(raw: RawResult) -> dict[str, object]:
    """A decoder's time windows, keyed as the reference keys them (see canonical_windows)."""
    return {"windows": raw.windows,
            "cells": {(owner_key(raw, raw.groups[group][0], 1), window): tuple(rest)
                      for group, window, *rest in raw.cells}}


def windows_outcome(data: bytes, decoder: str, chunk_size: int | None = None,
                    max_windows: int = fmt.MAX_WINDOWS) -> object:
    """The time windows a decoder finds in `data` ("rejected" as `outcome`)."""
    try:
        raw, _end = decode_stream(io.BytesIO(data), "test.bin", decoder=decoder, max_windows=max_windows,
                                  **({} if chunk_size is None else {"chunk_size": chunk_size}))
    except MemprofFormatError:
        return "rejected"
    return raw_windows(raw)


def reference_windows(data: bytes, max_windows: int = fmt.MAX_WINDOWS) -> object:
    try:
        return canonical_windows(reference_decode(data), max_windows)
    except HeaderError:
        return "rejected"


def owners_outcome(data: bytes, decoder: str, chunk_size: int | None = None) -> object:
    """The owners of live memory a decoder finds in `data` ("rejected" as `outcome`)."""
    try:
        raw, _end = decode_stream(io.BytesIO(data), "test.bin", decoder=decoder,
                                  **({} if chunk_size is None else {"chunk_size": chunk_size}))
    except MemprofFormatError:
        return "rejected"
    return raw_owners(raw)


def reference_owners(data: bytes) -> object:
    try:
        return canonical_owners(reference_decode(data))
    except HeaderError:
        return "rejected"


def reference_outcome(data: bytes) -> object:
    try:
        return canonical(reference_decode(data))
    except HeaderError:
        return "rejected"


# -- equal to the reference ------------------------------------------------------------------------


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_equal_to_the_reference_on_every_fixture(name: str, decoder: str) -> None:
    assert outcome(fixture_bytes(name), decoder) == reference_for_fixture(name)


@functools.cache
def reference_for_fixture(name: str) -> object:
    return reference_outcome(fixture_bytes(name))


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_both_decoders_give_the_same_raw_result(name: str) -> None:
    if "c" not in DECODERS:
        pytest.skip("the C decoder is not built")
    data = fixture_bytes(name)
    results = [decode_stream(io.BytesIO(data), name, decoder=d) for d in ("c", "python")]
    assert results[0] == results[1]


@pytest.mark.parametrize("chunk_size", [1, 7, 13, 64, 4096])
@pytest.mark.parametrize("name", ["loadstring.bin", "cfunc.bin.xz", "symtab-cut.bin"])
def test_where_the_pieces_split_the_stream_does_not_matter(name: str, chunk_size: int) -> None:
    data = fixture_bytes(name)
    whole = decode_stream(io.BytesIO(data), name, decoder=DECODERS[0])
    pieces = decode_stream(io.BytesIO(data), name, decoder=DECODERS[0], chunk_size=chunk_size)
    assert pieces == whole


def test_the_c_decoder_is_built() -> None:
    if "c" not in DECODERS:
        if os.environ.get("LJPROF_REQUIRE_C_DECODER") == "1":
            pytest.fail("the C memprof decoder is not built (pip install -e . needs a C compiler and Python.h)")
        pytest.skip("the C memprof decoder is not built; LJPROF_REQUIRE_C_DECODER=1 makes this a failure")


# -- exact numbers ---------------------------------------------------------------------------------

# leak.lua keeps 8 strings of 1001..1008 bytes (line 6) and drops 8 of 501..508 bytes (line 9). A
# string takes a 16-byte header, its bytes and a terminating NUL: line 6 allocates
# sum(16 + 1000 + i + 1 for i in 1..8) = 8172 bytes, line 9 sum(16 + 500 + i + 1) = 4172 bytes.
# string.rep's buffer also grows at line 6 (2 reallocs), and the GC shrinks it twice later: two
# INTERNAL reallocs that override line 6 with 1024 bytes for 2048. So the parser's heap summary
# says line 6 holds 8172 + 1024 - 2048 = 7148 bytes (10 allocs, 2 frees), while what is still
# allocated at the end from line 6 is exactly the 8 kept strings.


@pytest.mark.parametrize("decoder", DECODERS)
def test_exact_numbers_of_a_known_leak(decoder: str) -> None:
    p = parse_file(Path(__file__).parents[1] / "fixtures" / "memprof" / "leak.bin", decoder=decoder)
    assert p.complete and p.cut is None and p.trailing_bytes == 0
    assert p.size == 124099
    assert (p.counts.allocs, p.counts.reallocs, p.counts.frees) == (16, 7, 32)
    allocations = {s.location.text: (s.events, s.allocated, s.freed) for s in p.allocations}
    assert allocations == {"@leak.lua:6": (8, 8172, 0), "@leak.lua:9": (8, 4172, 0)}
    assert sum(16 + 1000 + i + 1 for i in range(1, 9)) == 8172
    assert sum(16 + 500 + i + 1 for i in range(1, 9)) == 4172

    [leak] = p.heap_summary
    assert leak.location.text == "@leak.lua:6"
    assert leak.location.kind == "lua" and leak.location.file == "leak.lua" and leak.location.line == 6
    assert (leak.holds, leak.allocs, leak.frees) == (7148, 10, 2)
    [shrink] = [o for s in p.reallocations if s.location.text == "INTERNAL" for o in s.overrides
                if o.location.text == "@leak.lua:6"]
    assert (shrink.count, shrink.allocated, shrink.freed) == (2, 1024, 2048)
    assert 8172 + 1024 - 2048 == 7148
    # Every dropped string was freed by the GC, every kept one is still there.
    [freed] = p.deallocations
    assert freed.location.text == "INTERNAL" and freed.events == 32
    assert [(o.location.text, o.count, o.freed) for o in freed.overrides] == [("@leak.lua:9", 8, 4172)]
    live = {x.location.text: (x.chunks, x.bytes) for x in p.live}
    assert live["@leak.lua:6"] == (8, 8172)
    assert "@leak.lua:9" not in live


@pytest.mark.parametrize("decoder", DECODERS)
def test_traces_resolve_to_where_they_start(decoder: str) -> None:
    p = parse_bytes(fixture_bytes("traces.bin"), decoder, "traces.bin")
    top = p.heap_summary[0]
    assert top.location.text == "TRACE [1] started at @traces.lua:4"
    assert top.location.kind == "trace" and top.location.trace == 1
    assert top.location.file == "traces.lua" and top.location.line == 4
    assert (top.holds, top.allocs, top.frees) == (164808, 2943, 0)
    assert p.counts.traces >= 4


@pytest.mark.parametrize("decoder", DECODERS)
def test_code_loaded_from_a_string_is_named_by_its_alias(decoder: str) -> None:
    p = parse_bytes(fixture_bytes("loadstring.bin"), decoder, "loadstring.bin")
    [alias] = p.aliases
    assert alias.name == "function_alias_1" and alias.source.startswith("local t = {}\nfor i = 1, 5 do\n")
    top = p.heap_summary[0].location
    assert top.text == "function_alias_1:3" and top.alias == "function_alias_1" and top.source == alias.source
    assert top.file is None


@pytest.mark.parametrize("decoder", DECODERS)
def test_c_functions_and_the_repeated_c_symbol_table(decoder: str) -> None:
    p = parse_bytes(fixture_bytes("cfunc.bin.xz"), decoder, "cfunc.bin")
    c_sites = [s for s in p.allocations if s.location.kind == "c"]
    assert [(s.location.text, s.events) for s in c_sites] == [("__cxa_finalize:0x7f1ef8dfe000", 3)]
    assert c_sites[0].location.symbol == "__cxa_finalize" and c_sites[0].location.address == 0x7F1EF8DFE000
    # 3 C events, each after a re-dump of the whole C symbol table (5740 entries).
    assert p.counts.symbols == 17220 and p.counts.c_symbols == 4478


# -- cut files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_file_cut_by_sigkill_gives_every_complete_event(decoder: str) -> None:
    data = fixture_bytes("killed.bin.xz")
    p = parse_bytes(data, decoder, "killed.bin")
    assert not p.complete and p.cut is not None and not p.cut.corrupt
    assert p.size == len(data) == 4194304
    assert p.cut.offset == 4194302 and p.cut.where == "the event stream"
    assert "inside an alloc event that starts at byte 4194302" in p.cut.reason
    assert p.counts.events == 382539
    assert p.heap_summary[0].location.text == "@killed.lua:8"


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_file_cut_inside_the_symbol_table(decoder: str) -> None:
    p = parse_bytes(fixture_bytes("symtab-cut.bin"), decoder, "symtab-cut.bin")
    assert p.cut is not None and p.cut.where == "the symbol table" and p.cut.offset == 49990
    assert p.cut.reason == ("the file ends after 50000 bytes, inside a symbol table entry of 17 bytes "
                            "that starts at byte 49990")
    assert p.counts.events == 0 and p.counts.symtab == 2203
    assert p.allocations == () and p.heap_summary == ()


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_file_without_the_end_marker(decoder: str) -> None:
    data = fixture_bytes("leak.bin")[:-1]
    p = parse_bytes(data, decoder)
    assert p.cut is not None and p.cut.offset == len(data)
    assert p.cut.reason == f"the file ends after {len(data)} bytes without the end marker"
    assert p.counts.events == 55  # all of them: only the marker is missing
    assert p.heap_summary == parse_bytes(fixture_bytes("leak.bin"), decoder).heap_summary


@pytest.mark.parametrize("decoder", DECODERS)
def test_trailing_bytes_after_the_end_marker_are_counted(decoder: str) -> None:
    p = parse_bytes(fixture_bytes("leak.bin") + b"junk", decoder)
    assert p.complete and p.trailing_bytes == 4 and p.size == 124103


@pytest.mark.parametrize("decoder", DECODERS)
def test_corrupt_data_stops_with_what_came_before(decoder: str) -> None:
    data = bytearray(fixture_bytes("leak.bin"))
    start = data.index(b"ljm\x03\x00\x00\x00") + 7
    data[start] = 0x77  # the first event's header
    p = parse_bytes(bytes(data), decoder)
    assert p.cut is not None and p.cut.corrupt and p.cut.offset == start
    assert p.cut.reason == f"corrupt data: byte {start} is 0x77, not an event header"
    assert p.counts.events == 0 and p.counts.symtab > 5000


# -- rejected files --------------------------------------------------------------------------------

LEAK_SYMTAB_END = 123516  # offset of b"ljm" in leak.bin


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "test.bin: the file is empty, not a memprof profile. memprof writes nothing when the program "
              "ends with os.exit(code)"),
        (b"ljs\x03", "test.bin: only 4 bytes, cut inside the symbol table's prologue"),
        (b"\x7fELF\x02\x01\x01\x00", "test.bin: not a memprof profile: it starts with b'\\x7fELF\\x02\\x01\\x01\\x00', "
                                     "expected b'ljs'"),
        (b"ljs\x02\x00\x00\x00\x80", "test.bin: symbol table format version 2, expected 3"),
        (b"lj", "test.bin: only 2 bytes, cut inside the symbol table's prologue"),
        (b"ljs\x03\x00\x00\x00\x80ljx", "test.bin: byte 8: expected the event stream's prologue b'ljm' after the "
                                       "symbol table, found b'ljx'"),
        (b"ljs\x03\x00\x00\x00\x80ljm\x04\x00\x00\x00\x80", "test.bin: byte 11: memprof event format version 4, "
                                                            "expected 3"),
    ],
)
def test_wrong_headers_are_rejected_with_what_was_expected(data: bytes, message: str, decoder: str) -> None:
    with pytest.raises(MemprofFormatError) as info:
        parse_bytes(data, decoder)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ConfigError) and info.value.exit_code == 2


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_cut_in_the_event_streams_prologue_is_a_cut(decoder: str) -> None:
    data = fixture_bytes("leak.bin")
    assert data[LEAK_SYMTAB_END:LEAK_SYMTAB_END + 3] == b"ljm"
    p = parse_bytes(data[:LEAK_SYMTAB_END + 5], decoder)
    assert p.cut is not None and p.cut.where == "the event stream's prologue"
    assert p.cut.offset == LEAK_SYMTAB_END


def test_missing_files_and_directories_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open the memprof file"):
        parse_file(tmp_path / "nope.bin")
    with pytest.raises(ConfigError, match="directory"):
        parse_file(tmp_path)


def test_an_unknown_decoder_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown memprof decoder 'rust'"):
        parse_bytes(b"", "rust")


def test_raw_results_compare_as_data() -> None:
    raw, end = decode_stream(io.BytesIO(fixture_bytes("loadstring.bin")), "x", decoder="python")
    assert isinstance(raw, RawResult) and end.complete
