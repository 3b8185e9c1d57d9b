"""ljprof's view of memprof: chunks followed by address, rows per line, C functions by library.

Made-up streams with known answers (both decoders must give them), then the
recorded fixtures.
"""

from __future__ import annotations

import dataclasses
import io

import pytest

from ljprof.profilers.memprof import MemprofProfile, available_decoders, parse_stream
from ljprof.profilers.memprof import format as fmt
from ljprof.profilers.memprof.decoder import decode_stream
from ljprof.profilers.memprof.model import LiveSite, LiveStats
from tests.unit.test_memprof_fuzz import encode_event, encode_symbol
from tests.unit.test_memprof_parse import outcome, owners_outcome, reference_outcome, reference_owners
from tests.unit.test_memprof_reference import fixture_bytes

DECODERS = list(available_decoders())
HEAD = b"ljs\x03\x00\x00\x00"
EVENTS = b"\x80ljm\x03\x00\x00\x00"
PROTO, TRACE_PROTO, HARNESS_PROTO = 0x1000, 0x2000, 0x3000


def stream(symtab: list[tuple[object, ...]], events: list[tuple[object, ...]], *, end: bool = True) -> bytes:
    out = HEAD + b"".join(encode_symbol(sym, {"lua": 0, "c": 1, "trace": 2}[str(sym[0])]) for sym in symtab)
    return out + EVENTS + b"".join(encode_event(ev) for ev in events) + (b"\x80" if end else b"")


def profiles(data: bytes) -> list[MemprofProfile]:
    """The profile from each decoder, after checking them against the reference decoder."""
    assert owners_outcome(data, DECODERS[0]) == reference_owners(data)
    assert outcome(data, DECODERS[0]) == reference_outcome(data)
    return [parse_stream(io.BytesIO(data), "t.bin", decoder=d) for d in DECODERS]


def row(profile: MemprofProfile, name: str) -> LiveSite:
    found = [site for site in profile.sites if site.location.name == name]
    assert len(found) == 1, [s.location.name for s in profile.sites]
    return found[0]


LUA = [("lua", PROTO, b"@app.lua", 1), ("lua", HARNESS_PROTO, b"@/ljprof/harness/run.lua", 1)]
PROFILER_HARNESS_PROTO = 0x3100  # a profiler's part of the harness (ljprof/profilers/memprof/harness.lua)


def at(line: int) -> tuple[object, ...]:
    return ("lua", PROTO, line)


# -- chunks followed by address --------------------------------------------------------------------


def test_a_realloc_chain_moves_the_chunk_and_its_bytes() -> None:
    data = stream(LUA, [
        ("alloc", at(3), 0x10, 100),
        ("realloc", at(4), 0x10, 100, 0x20, 200),  # moved to line 4, bigger
        ("realloc", at(4), 0x20, 200, 0x20, 50),  # shrunk in place
        ("realloc", at(5), 0x20, 50, 0x30, 70),  # moved to line 5
    ])
    for p in profiles(data):
        assert row(p, "@app.lua:3").stats == LiveStats(0, 0, 1, 1, 100)
        assert row(p, "@app.lua:4").stats == LiveStats(0, 0, 2, 2, 200)
        assert row(p, "@app.lua:5").stats == LiveStats(70, 1, 1, 0, 70)
        assert (p.counts.unknown_frees, p.counts.unknown_reallocs, p.counts.replaced) == (0, 0, 0)


def test_frees_of_chunks_from_before_the_profile_are_counted_not_tracked() -> None:
    data = stream(LUA, [
        ("free", at(3), 0x40, 64),  # allocated before memprof started
        ("realloc", at(3), 0x30, 16, 0x10, 32),  # likewise: the new chunk is line 3's
        ("free", at(3), 0x40, 64),
        ("alloc", at(4), 0x20, 8),
    ])
    for p in profiles(data):
        assert (p.counts.unknown_frees, p.counts.unknown_reallocs) == (2, 1)
        assert row(p, "@app.lua:3").stats == LiveStats(32, 1, 1, 0, 32)
        assert row(p, "@app.lua:4").stats == LiveStats(8, 1, 1, 0, 8)


def test_an_alloc_over_a_live_chunk_replaces_it() -> None:
    # The free of the first chunk is not in the stream: it is gone all the same.
    data = stream(LUA, [("alloc", at(3), 0x10, 100), ("alloc", at(4), 0x10, 40)])
    for p in profiles(data):
        assert p.counts.replaced == 1
        assert row(p, "@app.lua:3").stats == LiveStats(0, 0, 1, 1, 100)
        assert row(p, "@app.lua:4").stats == LiveStats(40, 1, 1, 0, 40)


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_a_cut_file_reports_what_was_live_at_the_cut(cut: int) -> None:
    events = [("alloc", at(3), 0x10, 100), ("alloc", at(3), 0x20, 200), ("free", at(5), 0x10, 100)]
    data = stream(LUA, events, end=False)[:-cut]  # inside the free
    for p in profiles(data):
        assert p.cut is not None and not p.cut.corrupt
        assert row(p, "@app.lua:3").stats == LiveStats(300, 2, 2, 0, 300)


def test_the_peak_is_the_most_live_at_once() -> None:
    data = stream(LUA, [
        ("alloc", at(3), 0x10, 100), ("alloc", at(3), 0x20, 100), ("free", at(9), 0x10, 100),
        ("free", at(9), 0x20, 100), ("alloc", at(3), 0x30, 150),
    ])
    for p in profiles(data):
        assert row(p, "@app.lua:3").stats == LiveStats(150, 1, 3, 2, 200)


# -- rows: a line with the traces that start at it -------------------------------------------------


def test_a_lines_interpreted_and_trace_allocations_are_one_row() -> None:
    symtab = [*LUA, ("trace", 13, PROTO, 3), ("trace", 14, PROTO, 3)]
    data = stream(symtab, [
        ("alloc", at(3), 0x10, 100),  # interpreted
        ("free", ("int",), 0x10, 100),
        ("alloc", ("trace", 13), 0x20, 60),
        ("alloc", ("trace", 14), 0x30, 10),
        ("alloc", ("trace", 13), 0x40, 30),
    ])
    for p in profiles(data):
        site = row(p, "@app.lua:3")
        assert site.location.kind == "lua" and site.location.line == 3
        # The row's peak is its own (100 interpreted, before any trace ran), not the sum of its parts' peaks.
        assert site.stats == LiveStats(100, 3, 4, 1, 100)
        assert [(part.label, part.location.text, part.stats) for part in site.parts] == [
            ("TRACE [13]", "TRACE [13] started at @app.lua:3", LiveStats(90, 2, 2, 0, 90)),
            ("TRACE [14]", "TRACE [14] started at @app.lua:3", LiveStats(10, 1, 1, 0, 10)),
            ("interpreted", "@app.lua:3", LiveStats(0, 0, 1, 1, 100)),
        ]
        assert [s.location.name for s in p.sites] == ["@app.lua:3"]  # one row; INTERNAL only freed


def test_a_trace_whose_start_is_unknown_is_a_row_of_its_own() -> None:
    data = stream(LUA, [("alloc", ("trace", 7), 0x10, 100)])
    for p in profiles(data):
        assert row(p, "TRACE [7]").stats == LiveStats(100, 1, 1, 0, 100)


def test_the_harness_frames_are_marked() -> None:
    syms = [*LUA, ("lua", PROFILER_HARNESS_PROTO, b"@/ljprof/profilers/memprof/harness.lua", 1)]
    data = stream(syms, [("alloc", ("lua", HARNESS_PROTO, 140), 0x10, 877), ("alloc", at(3), 0x20, 5),
                         ("alloc", ("lua", PROFILER_HARNESS_PROTO, 25), 0x30, 3)])
    for p in profiles(data):
        assert [(s.location.name, s.harness) for s in p.sites] == [
            ("@/ljprof/harness/run.lua:140", True), ("@app.lua:3", False),
            ("@/ljprof/profilers/memprof/harness.lua:25", True)]


# -- C functions by library and offset -------------------------------------------------------------

BASE = 0x7F31F6971000
CJSON = [("c", BASE, name) for name in (b"free", b"malloc", b"__cxa_finalize")] + [
    ("c", BASE + 0x46D0, b"luaopen_cjson"), ("c", BASE + 0x46F0, b"luaopen_cjson_safe"),
    ("c", BASE + 0x4800, b"strbuf_new"),
]
OTHER = 0x7F0000100000  # a library with no luaopen_: known by its base
PATH = 0x7F0000900000  # an object the fork could not read: its path at its base


def test_a_c_function_without_a_symbol_is_named_by_library_and_offset() -> None:
    symtab = [*LUA, *CJSON, ("c", OTHER, b"free"), ("c", OTHER, b"abort"), ("c", OTHER + 0x800, b"f"),
              ("c", PATH, b"/usr/lib/x86_64-linux-gnu/libthing.so.1")]
    data = stream(symtab, [
        ("alloc", ("c", BASE + 0x3CC0), 0x10, 32),  # json_decode: static, stripped
        ("alloc", ("c", BASE + 0x4800), 0x20, 16),  # strbuf_new: exported
        ("alloc", ("c", OTHER + 0x100), 0x30, 8),
        ("alloc", ("c", OTHER + 0x900), 0x40, 4),  # after f: f+0x100, in a library with no name
        ("alloc", ("c", PATH + 0x10), 0x50, 2),
        ("alloc", ("c", 0x100), 0x60, 1),  # below every symbol
    ])
    for p in profiles(data):
        names = {s.location.name: s.location for s in p.sites}
        decode = names["cjson.so+0x3cc0"]
        assert (decode.text, decode.library, decode.library_base, decode.function) == (
            f"__cxa_finalize:{BASE:#x}", "cjson.so", BASE, BASE + 0x3CC0)
        assert names["strbuf_new"].text == f"strbuf_new:{BASE + 0x4800:#x}"
        assert names["strbuf_new"].library == "cjson.so"
        assert f"lib@{OTHER:#x}+0x100" in names
        assert f"lib@{OTHER:#x}+0x900" in names
        assert "libthing.so.1+0x10" in names
        assert names["CFUNC 0x100"].library is None
        # The parser's sections keep the parser's names.
        assert {s.location.text for s in p.allocations} >= {f"__cxa_finalize:{BASE:#x}", "CFUNC 0x100"}


def test_the_recorded_lua_cjson_encode_is_named_by_offset() -> None:
    data = fixture_bytes("cfunc.bin.xz")
    p = parse_stream(io.BytesIO(data), "cfunc.bin")
    encode = row(p, "cjson.so+0x45d0")
    assert encode.location.text == "__cxa_finalize:0x7f1ef8dfe000"
    assert encode.stats == LiveStats(72, 3, 3, 0, 72)


# -- repeated symbol tables ------------------------------------------------------------------------


def test_repeated_symbol_tables_decode_to_the_same_profile_with_bounded_entries(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # cfunc.bin: the fork wrote its ~5700 C symbols again before each of 3 events from lua-cjson,
    # one run of records per library: 18 runs, 12 of them repeats.
    data = fixture_bytes("cfunc.bin.xz")
    results = {d: decode_stream(io.BytesIO(data), "cfunc.bin", decoder=d)[0] for d in DECODERS}
    raw = results[DECODERS[0]]
    assert all(r == raw for r in results.values())
    c = raw.counts
    assert (c[fmt.COUNT_C_RUNS], c[fmt.COUNT_C_RUNS_REPEATED]) == (18, 12)
    symbol_records = c[fmt.COUNT_SYMTAB_C] + c[fmt.COUNT_SYM_C]
    assert symbol_records == 22960
    assert len(raw.cnames) == len(set(raw.cnames)) == 5400  # one entry per distinct name
    assert len(raw.csyms) == raw.symbols[1] == 4478  # one per address
    # Decoding every run (nothing kept) gives the same profile.
    monkeypatch.setattr(fmt, "RUN_CACHE_RUNS", 0)
    slow = decode_stream(io.BytesIO(data), "cfunc.bin", decoder="python")[0]
    assert slow.counts[fmt.COUNT_C_RUNS_REPEATED] == 0
    assert dataclasses.replace(slow, counts=raw.counts) == raw


def test_the_symbol_share_of_the_file_is_measured() -> None:
    p = parse_stream(io.BytesIO(fixture_bytes("cfunc.bin.xz")), "cfunc.bin")
    assert p.symbols.bytes == 496060 and p.symbols.c_names == 5400
    assert p.symbols.fraction(p.size) > 0.99
