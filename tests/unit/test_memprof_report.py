"""memprof reports: the text equals the peer's output; the JSON holds the same data; invoke memprof."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ljprof.commands import memprof_file as report_file
from ljprof.errors import ConfigError
from ljprof.profilers.memprof import available_decoders, parse_stream
from ljprof.profilers.memprof.report_json import render_json
from ljprof.profilers.memprof.report_text import format_bytes, render_text
from tests.unit.test_memprof_reference import (
    COMPLETE,
    FIXTURES,
    MODES,
    canonical_report,
    fixture_bytes,
    peer_output,
)

DECODERS = list(available_decoders())


def text_report(name: str, decoder: str = DECODERS[0], **options: bool) -> str:
    profile = parse_stream(io.BytesIO(fixture_bytes(name)), name, decoder=decoder)
    out = io.StringIO()
    render_text(profile, out, **options)
    return out.getvalue()


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", COMPLETE)
def test_text_report_equals_the_peers_output(name: str, mode: str, decoder: str) -> None:
    ours = text_report(name, decoder, **MODES[mode])
    theirs = peer_output(name, mode)
    # Same lines, same sections, each sorted by the peer's key; entries with equal keys (whose
    # order the peer leaves undefined) compared as a set: see canonical_report.
    assert canonical_report(ours) == canonical_report(theirs)
    assert sorted(ours.split("\n")) == sorted(theirs.split("\n"))


def test_text_report_without_ties_is_identical_to_the_peers() -> None:
    # cfunc.bin has no two entries with the same key in any section.
    assert text_report("cfunc.bin.xz") == peer_output("cfunc.bin.xz", "")
    assert text_report("loadstring.bin", leak_only=True) == peer_output("loadstring.bin", ".leak-only")


def test_equal_entries_are_ordered_by_bytes_then_text() -> None:
    lines = text_report("leak.bin").split("\n")
    # Both sites made 8 allocations; the peer prints them in either order, we put more bytes first.
    assert lines[1:3] == ["@leak.lua:6: 8 events\t+8172B\t-0B", "@leak.lua:9: 8 events\t+4172B\t-0B"]


def test_a_cut_file_says_so_first_and_reports_what_came_before() -> None:
    report = text_report("killed.bin.xz")
    lines = report.split("\n")
    assert lines[0] == ("WARNING: killed.bin.xz is incomplete: the file ends after 4194304 bytes, inside an alloc "
                        "event that starts at byte 4194302 (the event stream).")
    assert lines[1] == "WARNING: this report covers the 382539 events before byte 4194302 of 4194304."
    assert lines[2:4] == ["", "ALLOCATIONS"]
    assert "HEAP SUMMARY:" in lines
    assert lines[lines.index("HEAP SUMMARY:") + 1].startswith("@killed.lua:8 holds ")


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0B"), (1023, "1023B"), (1024, "1KiB"), (1536, "1.50KiB"), (259587, "253.50KiB"), (1048576, "1MiB"),
     (1234567, "1.18MiB"), (3 * 1024**3, "3GiB"), (5 * 1024**4, "5120GiB"), (1025, "1.00KiB")],
)
def test_human_readable_sizes_as_the_peer_prints_them(count: int, text: str) -> None:
    assert format_bytes(count, human_readable=True) == text
    assert format_bytes(count) == f"{count}B"


def test_json_report_has_the_same_data_with_sorted_keys() -> None:
    profile = parse_stream(io.BytesIO(fixture_bytes("traces.bin")), "traces.bin")
    out = io.StringIO()
    render_json(profile, out)
    text = out.getvalue()
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert data["complete"] is True and data["cut"] is None and data["format"] == "ljprof-memprof/3"
    name = "TRACE [1] started at @traces.lua:4"
    trace_1 = {"kind": "trace", "text": name, "label": name, "source": "@traces.lua", "file": "traces.lua", "line": 4,
               "trace": 1}
    top = data["heap_summary"][0]
    assert top == {"location": trace_1, "holds": 164808, "allocs": 2943, "frees": 0}
    # ljprof's rows: the line where trace 1 starts, with the trace as its part.
    assert data["sites"][0] == {
        "location": {"kind": "lua", "text": "@traces.lua:4", "label": "@traces.lua:4", "source": "@traces.lua",
                     "file": "traces.lua", "line": 4},
        "live_bytes": 164808, "live_chunks": 2943, "allocs": 2943, "frees": 0, "peak_bytes": 164808,
        "harness": False, "marker": False, "growing": None,
        "parts": [{"label": "TRACE [1]", "location": trace_1, "live_bytes": 164808, "live_chunks": 2943,
                   "allocs": 2943, "frees": 0, "peak_bytes": 164808}],
        # No markers: one window, with all of it.
        "windows": [{"window": 0, "allocated_chunks": 2943, "allocated_bytes": 164808, "live_bytes": 164808,
                     "still_live_chunks": 2943, "still_live_bytes": 164808}],
    }
    assert data["windows"] == {"count": 1, "markers": 0, "stride": 1}
    assert data["symbols"] == {"bytes": 123535, "c_runs": 0, "c_runs_repeated": 0, "c_names": 5383,
                               "fraction": round(123535 / 153260, 4)}
    assert [s["location"]["text"] for s in data["allocations"]] == [s.location.text for s in profile.allocations]
    assert data["counts"]["events"] == profile.counts.events

    leak_only = io.StringIO()
    render_json(profile, leak_only, leak_only=True)
    assert not {"allocations", "reallocations", "deallocations"} & set(json.loads(leak_only.getvalue()))


def test_json_report_of_a_cut_file() -> None:
    profile = parse_stream(io.BytesIO(fixture_bytes("symtab-cut.bin")), "symtab-cut.bin")
    out = io.StringIO()
    render_json(profile, out)
    data = json.loads(out.getvalue())
    assert data["complete"] is False
    assert data["cut"] == {"offset": 49990, "where": "the symbol table", "corrupt": False,
                           "reason": profile.cut.reason if profile.cut else None}


def test_report_file_writes_the_text_and_the_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    json_path = tmp_path / "memprof.json"
    status = report_file(FIXTURES / "leak.bin", out, human_readable=True, json_out=str(json_path))
    assert status == 0
    assert canonical_report(out.getvalue()) == canonical_report(peer_output("leak.bin", ".human-readable"))
    assert json.loads(json_path.read_text(encoding="utf-8"))["heap_summary"][0]["holds"] == 7148
    assert capsys.readouterr() == ("", "")  # reporters write to their file objects only


def test_report_file_on_a_cut_file_returns_partial(tmp_path: Path) -> None:
    out = io.StringIO()
    assert report_file(FIXTURES / "symtab-cut.bin", out, leak_only=True) == 1
    assert out.getvalue().startswith("WARNING: ")
    assert out.getvalue().endswith("HEAP SUMMARY:\n\n")


def test_report_file_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(ConfigError, match=r"empty\.bin: the file is empty"):
        report_file(empty, io.StringIO())
    with pytest.raises(ConfigError, match="cannot write the report"):
        report_file(FIXTURES / "leak.bin", io.StringIO(), json_out=str(tmp_path / "no" / "such" / "dir.json"))


def test_memprof_file_writes_html_with_source_lines(tmp_path: Path) -> None:
    sources = tmp_path / "src"
    sources.mkdir()
    (sources / "leak.lua").write_text("\n".join(f"-- {n}" for n in range(1, 6)) + "\nkeep[#keep + 1] = s\n")
    html = tmp_path / "memprof.html"
    assert report_file(FIXTURES / "leak.bin", io.StringIO(), html_out=str(html), sources=str(sources)) == 0
    assert "leak.lua:6: keep[#keep + 1] = s</code>" in html.read_text()
