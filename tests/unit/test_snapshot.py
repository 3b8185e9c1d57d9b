"""The snapshot diff, its groups and the memprof join, on snapshots recorded from real runs (fixtures' README)."""

from __future__ import annotations

import html
import io
from pathlib import Path

import pytest

from ljprof.profilers.memprof.parse import live_chunks
from ljprof.profilers.snapshot import graph
from ljprof.profilers.snapshot.diff import diff, object_path
from ljprof.profilers.snapshot.parse import read_edges, read_snapshot
from ljprof.profilers.snapshot.section import join, snapshot_section
from ljprof.reporting.model import RunDir
from ljprof.run.runner import describe_files

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "snapshot"


def test_the_upvalue_leak_is_one_group_with_its_count() -> None:
    before, after = (read_snapshot(FIXTURES / "edge" / f"snapshot-0{n}.txt") for n in (2, 4))
    assert (before.label, after.label, before.state, after.state) == ("before", "after#2", "complete", "complete")
    d = diff(before, after)
    first = d.groups[0]
    assert first.path == "local register in main chunk (@edge.lua:0) > upvalue sessions of register (@edge.lua:5) [*]"
    assert (first.count, first.objects) == (1000, 2000)
    assert object_path(after, first.holder) == ("local register in main chunk (@edge.lua:0) > upvalue sessions "
                                                "of register (@edge.lua:5)")
    assert after.census()["table"][0] == before.census()["table"][0] + 1000


def test_a_snapshot_cut_by_a_kill_keeps_its_complete_lines(tmp_path: Path) -> None:
    text = (FIXTURES / "edge" / "snapshot-02.txt").read_bytes()
    cut = tmp_path / "snapshot-02.txt"
    cut.write_bytes(text[: len(text) // 2])
    snap = read_snapshot(cut)
    assert snap.state == "cut" and 0 < snap.objects < read_snapshot(FIXTURES / "edge" / "snapshot-02.txt").objects


def test_the_bots_leak_joined_with_memprof_by_address() -> None:
    start, end = (read_snapshot(FIXTURES / "bot" / f"snapshot-0{n}.txt") for n in (1, 2))
    d = diff(start, end)
    first = d.groups[0]
    assert first.path == "local delivered in main chunk (@bot.lua:0) [*]"
    assert (first.count, first.objects) == (110, 310)
    joined = join(first, end, live_chunks(FIXTURES / "bot" / "memprof.bin"))
    # every entry table was allocated on bot.lua's LEAK line; every object found by its %p address
    assert joined == {"matched": 310, "exact_bytes": joined["exact_bytes"], "allocated_at": "@bot.lua:68",
                      "allocated_count": 110}
    assert 250_000 < joined["exact_bytes"] < 300_000


def test_the_graph_has_a_node_budget() -> None:
    start, end = (read_snapshot(FIXTURES / "bot" / f"snapshot-0{n}.txt") for n in (1, 2))
    holder = diff(start, end).groups[0].holder
    dot, nodes, left_out = graph.build_dot(end, read_edges(end), holder, depth=3, max_nodes=10)
    assert (nodes, left_out) == (10, 21)
    assert 'label="+21 more"' in dot and "98 more edges" in dot


def _run_dir(tmp_path: Path, later: bytes, monkeypatch: pytest.MonkeyPatch) -> RunDir:
    monkeypatch.setattr(graph, "render_svg", lambda dot: ("", "not rendered in unit tests"))
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "snapshot-02.txt").write_bytes((FIXTURES / "edge" / "snapshot-02.txt").read_bytes())
    (raw / "snapshot-04.txt").write_bytes(later)
    return RunDir(tmp_path, {"profile": "edge", "run_id": "r1"})


def test_a_diff_against_a_partial_snapshot_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (FIXTURES / "edge" / "snapshot-04.txt").read_text()
    body, end = text[:text.rindex("\nend\t") + 1], text[text.rindex("\nend\t") + 1:].split("\t")
    partial = body + "\t".join([*end[:4], "partial: object budget of 9000 reached"]) + "\n"
    run = _run_dir(tmp_path, partial.encode(), monkeypatch)
    section = snapshot_section(run, {})
    note = ("diff against an incomplete snapshot: 'after#2' (snapshot-04.txt) is partial: object budget of 9000 "
            "reached; objects it did not reach are missing")
    assert section.state == "cut" and section.headline.endswith(f" ({note})")
    assert section.summary["note"] == note and section.summary["compared_states"] == ["complete", "partial"]
    assert section.summary_top["snapshot"]["note"] == note
    out = io.StringIO()
    section.pages[0].render(out)
    assert f'<p class="warn">{html.escape(note)}</p>' in out.getvalue()


def test_a_diff_against_a_cut_snapshot_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (FIXTURES / "edge" / "snapshot-04.txt").read_bytes()
    section = snapshot_section(_run_dir(tmp_path, text[: len(text) * 3 // 4], monkeypatch), {})
    assert section.summary["compared_states"] == ["complete", "cut"]
    assert "'after#2' (snapshot-04.txt) is cut: read up to its last complete line" in section.headline


def test_every_snapshot_file_is_the_profilers_in_the_manifest(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("snapshot-01.txt", "snapshot-12.txt", "other.txt"):
        (raw / name).write_text("x")
    producers = {f["path"]: f["producer"] for f in describe_files(tmp_path)}
    assert producers["raw/snapshot-12.txt"] == producers["raw/snapshot-01.txt"]
    assert producers["raw/snapshot-12.txt"].startswith("snapshot: a heap walk")
    assert producers["raw/other.txt"] == "the target (written to its output folder)"


def test_memprof_and_snapshot_reports_decode_memprof_bin_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 440 MB memprof.bin takes 1.4 s more to decode a second time, for the join alone."""
    from ljprof.profilers.memprof import parse
    from ljprof.reporting.render import report_sections

    monkeypatch.setattr(graph, "render_svg", lambda dot: ("", "not rendered in unit tests"))
    decodes = []
    real = parse.decode_stream
    monkeypatch.setattr(parse, "decode_stream", lambda *a, **k: decodes.append(k.get("heap")) or real(*a, **k))
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("snapshot-01.txt", "snapshot-02.txt", "memprof.bin"):
        (raw / name).write_bytes((FIXTURES / "bot" / name).read_bytes())
    run = RunDir(tmp_path, {"profile": "bot", "run_id": "r1", "profilers": {"snapshot": {}, "memprof": {}}})
    sections = {s.name: s for s in report_sections(run)}
    assert len(decodes) == 1 and isinstance(decodes[0], list)  # once, with the live chunks for the join
    first = sections["snapshot"].summary_top["snapshot"]["retained"][0]
    assert (first["allocated_at"], first["matched"]) == ("@bot.lua:68", 310)
    memprof = sections["memprof"]
    assert memprof.state == "complete" and memprof.summary_top["memprof"]["top_sites"][0]["location"] == "@bot.lua:68"


def test_the_graph_root_option_finds_an_object_by_its_own_path() -> None:
    """`graph: {root: PATH}` names an object by object_path: found by building each path once."""
    from ljprof.profilers.snapshot.diff import find_object

    end = read_snapshot(FIXTURES / "edge" / "snapshot-04.txt")
    wanted = "local register in main chunk (@edge.lua:0) > upvalue sessions of register (@edge.lua:5)"
    holder = find_object(end, wanted)
    assert holder and object_path(end, holder) == wanted
    assert find_object(end, wanted + " > nothing") == 0
