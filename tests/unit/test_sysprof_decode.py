"""The sysprof decoder and frame names, on streams recorded from Tarantool's LuaJIT
(tests/fixtures/sysprof/README.md says how)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ljprof.profilers.sysprof import Namer, SysprofFormatError, decode, parse_ffnames, stacks
from ljprof.profilers.sysprof.names import function_name
from ljprof.profilers.sysprof.section import parse_counters
from ljprof.reporting.model import SourceLines

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sysprof"
FFNAMES = parse_ffnames((FIXTURES / "ffnames.txt").read_text())
SOURCES = SourceLines.from_folder(FIXTURES)
LUA = ("pmain", "@record.lua:0 main chunk", "[builtin#25] dofile", "@hot.lua:0 main chunk", "@hot.lua:16 spin")
HOST = ("_start", "__libc_start_main", "__libc_init_first", "main")


def named(name: str) -> dict[tuple[str, ...], int]:
    decoded = decode((FIXTURES / name).read_bytes())
    return dict(stacks(decoded, Namer(decoded.csyms, FFNAMES, SOURCES)))


def test_mode_l_stacks_exactly() -> None:
    assert named("hot-L.bin") == {
        (*LUA, "@hot.lua:3 mul", "[Lua function]"): 56,
        (*LUA, "[builtin#122] os.clock", "[C function]"): 19,
        ("@hot.lua:10 add", "trace 4", "[trace]"): 27,
    }


def test_mode_c_stacks_exactly() -> None:
    # the host frames sysprof kept (its default backtracer drops the leaf ones), then the Lua stack
    # from the C function that entered Lua (pmain) on
    assert named("hot-C.bin") == {
        (*LUA, "@hot.lua:3 mul", "[Lua function]"): 41,
        (*HOST, *LUA, "@hot.lua:3 mul", "[Lua function]"): 20,
        (*HOST, "lua_cpcall", "lj_BC_FUNCC", *LUA, "[builtin#122] os.clock", "[C function]"): 14,
        (*HOST, "[interpreted]"): 1,
        ("@hot.lua:10 add", "trace 4", "[trace]"): 27,
    }


@pytest.mark.parametrize("mode", ["L", "C"])
def test_samples_per_vmstate_match_sysprofs_own_counters(mode: str) -> None:
    decoded = decode((FIXTURES / f"hot-{mode}.bin").read_bytes())
    counters = parse_counters((FIXTURES / f"hot-{mode}.bin.counters").read_text())
    assert decoded.complete and decoded.reason == ""
    assert decoded.total == counters["samples"]
    assert decoded.by_vmstate() == {k: v for k, v in counters.items() if k != "samples"}


def test_the_stock_parser_prints_empty_stacks_for_the_same_file() -> None:
    # what `luajit -ts hot-L.bin` printed: every sample under one empty stack
    assert (FIXTURES / "hot-L.bin.ts.txt").read_text() == ";\t102\n"
    assert sum(named("hot-L.bin").values()) == 102


def test_traces_are_named_under_their_start_function() -> None:
    decoded = decode((FIXTURES / "hot-L.bin").read_bytes())
    assert decoded.traces[4] == ("@hot.lua", 12)  # trace 4 starts at line 12, in add (defined at 10)


def test_an_unknown_fast_function_is_ffunc_n() -> None:
    decoded = decode((FIXTURES / "hot-L.bin").read_bytes())
    by_stack = stacks(decoded, Namer(decoded.csyms, {}, SOURCES))
    assert ("pmain", "@record.lua:0 main chunk", "ffunc#25", "@hot.lua:0 main chunk", "@hot.lua:16 spin",
            "ffunc#122", "[C function]") in by_stack


def test_without_sources_a_lua_frame_is_chunk_and_line() -> None:
    decoded = decode((FIXTURES / "hot-L.bin").read_bytes())
    by_stack = stacks(decoded, Namer(decoded.csyms, FFNAMES, None))
    assert ("@hot.lua:10", "trace 4", "[trace]") in by_stack


@pytest.mark.parametrize(("line", "name"), [
    ("local function mul(n)", "mul"),
    ("function M.handle(self, x)", "M.handle"),
    ("function Bot:run()", "Bot:run"),
    ("local on_message = function(msg)", "on_message"),
    ("  handlers.ping = function (m)", "handlers.ping"),
    ("return {}", None),
    (None, None),
])
def test_function_name_from_its_definition_line(line: str | None, name: str | None) -> None:
    assert function_name(line) == name


def test_an_empty_file_gives_no_samples_and_the_reason() -> None:
    decoded = decode(b"")
    assert decoded.total == 0 and not decoded.complete
    assert "empty" in decoded.reason


def test_a_file_cut_mid_sample_keeps_every_sample_before_the_cut() -> None:
    data = (FIXTURES / "hot-L.bin").read_bytes()
    decoded = decode(data[:-3])  # the epilogue and the last sample's end
    assert not decoded.complete
    assert decoded.total == 101
    assert decoded.reason.startswith(f"cut at byte {decoded.offset} of {len(data) - 3}")


def test_a_file_cut_inside_the_symbol_table_says_so() -> None:
    decoded = decode((FIXTURES / "hot-L.bin").read_bytes()[:5000])
    assert decoded.total == 0
    assert decoded.reason.startswith("cut inside the symbol table at byte")


def test_not_a_sysprof_stream_is_an_error_naming_what_it_found() -> None:
    with pytest.raises(SysprofFormatError, match=r"starts with b'ljm\\x02"):
        decode(b"ljm\x02\x00\x00\x00\x80")
