"""jit.v and jit.dump parsing on files recorded from real runs (tests/fixtures/jit/README.md)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ljprof.profilers.jit import check_flags, dump_flags
from ljprof.profilers.jit.model import Group
from ljprof.profilers.jit.parse import Namer, parse_dump, parse_v, reason_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jit"
FNEW = "NYI: bytecode FNEW"


def v(name: str):  # type: ignore[no-untyped-def]
    return parse_v((FIXTURES / name).read_bytes())


def dump(name: str):  # type: ignore[no-untyped-def]
    return parse_dump((FIXTURES / name).read_bytes())


def test_upstream_v_counts_traces_aborts_and_links() -> None:
    log = v("traces.v.txt")
    assert (len(log.traces), log.root, log.side, len(log.aborts), log.flushes, log.cut) == (22, 8, 14, 26, 0, False)
    assert log.links() == Counter({"root": 13, "return": 3, "loop": 2, "interpreter": 2,
                                   "down-recursion": 1, "up-recursion": 1})
    # upstream prints "NYI: bytecode 51": the closure's line is first, by name
    assert log.aborts_by_location() == [Group("@traces.lua:16", FNEW, 20),
                                        Group("@traces.lua:36", "call unroll limit reached", 5),
                                        Group("@traces.lua:38", "down-recursion, restarting", 1)]
    assert log.aborts_by_reason()[0] == Group("", FNEW, 20)
    assert [(g.location, g.count) for g in log.aborts_by_start()] == [
        ("@traces.lua:15", 11), ("@traces.lua:38", 5), ("@traces.lua:33", 4), ("@traces.lua:43", 3),
        ("@traces.lua:13", 2), ("@traces.lua:37", 1)]
    # line 38 aborts 5 times but compiles 5 traces: not a candidate
    assert log.blacklist_candidates() == [Group("@traces.lua:15", FNEW, 11)]


def test_reused_numbers_are_told_apart_by_generation() -> None:
    log = v("traces.v.txt")
    eights = [(t.epoch, t.number, t.generation, t.start, t.link) for t in log.traces if t.number == 8]
    assert eights == [(0, 8, 0, "@traces.lua:36", "return"), (0, 8, 1, "@traces.lua:22", "root")]
    side = next(t for t in log.traces if t.number == 4)
    assert (side.kind, side.parent, side.exit, side.link, side.link_to) == ("side", 3, 1, "root", 3)
    fallback = next(t for t in log.traces if t.number == 7)
    assert (fallback.start, fallback.parent, fallback.link) == ("@traces.lua:33", 5, "interpreter")


def test_upstream_dump_gives_the_same_kind_of_summary() -> None:
    log = dump("traces.dump.txt")
    assert (len(log.traces), log.root, log.side, len(log.aborts), log.flushes, log.cut) == (24, 9, 15, 34, 0, False)
    assert log.aborts_by_location() == [Group("@traces.lua:16", FNEW, 20),
                                        Group("@traces.lua:36", "call unroll limit reached", 10),
                                        Group("@traces.lua:38", "down-recursion, restarting", 3),
                                        Group("@traces.lua:38", "inner loop in root trace", 1)]
    assert log.open_start is None


def test_fork_prints_bytecode_names_padded() -> None:
    for log in (v("fork-traces.v.txt"), dump("fork-traces.dump.txt")):
        assert (len(log.traces), log.root, log.side, len(log.aborts)) == (21, 6, 15, 21)
        assert log.aborts_by_location()[0] == Group("@traces.lua:16", FNEW, 20)


@pytest.mark.parametrize("name", ["flush.v.txt", "flush.dump.txt", "fork-flush.v.txt"])
def test_flushes_start_new_epochs_and_address_chunks_get_a_short_name(name: str) -> None:
    log = v(name) if ".v." in name else dump(name)
    assert log.flushes == 3
    assert [(t.epoch, t.number, t.generation) for t in log.traces] == [
        (0, 1, 0), (0, 2, 0), (1, 1, 0), (1, 2, 0), (2, 1, 0), (2, 2, 0), (3, 1, 0)]
    assert [t.start for t in log.traces[:2]] == ["@flush.lua:7", "[string]:2"]
    assert list(log.chunks) == ["[chunk 1]"] and log.chunks["[chunk 1]"].startswith("0x")
    assert log.aborts_by_location() == [Group("[chunk 1]:2", FNEW, 14)]


def test_cut_files_keep_every_complete_event() -> None:
    cut_v = v("traces.v.cut.txt")
    # 17 abort lines begin in the file; the 17th is cut short
    assert (cut_v.cut, len(cut_v.traces), len(cut_v.aborts)) == (True, 11, 16)
    cut_dump = dump("traces.dump.cut.txt")
    assert (cut_dump.cut, len(cut_dump.traces), len(cut_dump.aborts)) == (True, 11, 20)
    assert cut_dump.open_start == "@traces.lua:37"  # trace 12 (10/1) was being dumped when the file ends


def test_string_chunks_get_a_name_from_their_code_the_same_in_every_run() -> None:
    first, second = Namer(), Namer()
    loc = '[string "local t = {} for i = 1, 0x7f00 do..."]:3'
    assert first(loc) == second(loc) == first(loc.replace("0x7f00", "0x8e11"))
    assert first(loc).startswith("[string ") and first(loc).endswith("]:3")
    assert first("0x41e7c2a0:2") == "[chunk 1]:2" and first("0x41e7c2b0:9") == "[chunk 2]:9"
    assert (first("pairs"), first("C:7f01"), first("stdin:1"), first("src/a.lua:5")) == (
        "pairs", "C:7f01", "stdin:1", "@src/a.lua:5")


def test_reasons_have_one_spelling() -> None:
    assert reason_text("NYI: bytecode 51") == FNEW  # upstream
    assert reason_text("NYI: bytecode FNEW  ") == FNEW  # the fork
    assert reason_text("NYI: bytecode 51 (FNEW)") == FNEW  # loom
    assert reason_text("NYI: bytecode 7", ("A", "B")) == "NYI: bytecode 7"


def test_dump_flags_are_checked_and_always_plain_text() -> None:
    assert check_flags("+rsT") == "" and check_flags("is") == "" and check_flags("-b") == ""
    assert "does not know 'q'" in check_flags("+q")
    assert "plain text" in check_flags("+H")
    assert "no TRACE lines" in check_flags("x") and "no TRACE lines" in check_flags("-tbim")
    assert (dump_flags("+rs"), dump_flags("+rsT"), dump_flags("-b")) == ("+rsT", "+rsT", "-bT")
