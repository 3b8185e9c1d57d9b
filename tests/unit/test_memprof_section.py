"""memprof's section of a run's reports, on a recorded run of the shipped bot (tests/fixtures/memprof/run-bot)."""

from __future__ import annotations

import io
import json
import lzma
import shutil
from pathlib import Path

import pytest

from ljprof.profilers import PROFILERS
from ljprof.profilers.memprof.section import memprof_section
from ljprof.reporting.model import RunDir, Section
from tests.unit.test_memprof_reference import FIXTURES, canonical_report, fixture_bytes

RUN_BOT = FIXTURES / "run-bot"
TOP = {"location": "@bot.lua:68", "live_bytes": 257353, "live_chunks": 297, "allocs": 303, "frees": 6,
       "peak_bytes": 257353, "growing": None}


def run_dir(tmp_path: Path, memprof: bytes | None) -> RunDir:
    """The bot's run directory, with raw/memprof.bin holding `memprof` (None: no file)."""
    folder = tmp_path / "run"
    shutil.copytree(RUN_BOT, folder)
    packed = folder / "raw" / "memprof.bin.xz"
    packed.unlink()
    if memprof is not None:
        (folder / "raw" / "memprof.bin").write_bytes(memprof)
    return RunDir.load(folder)


@pytest.fixture
def bot(tmp_path: Path) -> RunDir:
    return run_dir(tmp_path, lzma.decompress((RUN_BOT / "raw" / "memprof.bin.xz").read_bytes()))


def render(section: Section, name: str) -> str:
    out = io.StringIO()
    next(page for page in section.pages if page.name == name).render(out)
    return out.getvalue()


def test_the_bots_leak_is_the_top_site(bot: RunDir) -> None:
    section = PROFILERS["memprof"].report(bot)
    assert (section.name, section.state, section.why, section.link) == ("memprof", "complete", "", "memprof.html")
    assert section.headline == (
        "memprof: @bot.lua:68 holds 251 KB live (297 chunks) — bot.lua:68 "
        "`for i = 1, #replies do delivered[#delivered + 1] = { body...`")
    top_sites = section.summary_top["memprof"]["top_sites"]
    assert top_sites[0] == TOP
    assert [s["location"] for s in top_sites[:5]] == [
        "@bot.lua:68", "INTERNAL", "@bot.lua:76", "@bot.lua:36", "cjson.so+0x45d0"]
    assert not any("harness" in s["location"] for s in top_sites)
    summary = section.summary
    assert (summary["size"], summary["events"], summary["complete"], summary["cut"]) == (12222980, 4663, True, None)
    assert summary["harness_hidden"] == {"sites": 6, "live_bytes": 1058, "live_chunks": 23}
    assert summary["symbol_fraction"] == 0.9963
    json.dumps(section.summary), json.dumps(section.summary_top)  # plain data


def test_the_console_shows_the_top_sites_with_their_lines_and_the_symbol_warning(bot: RunDir) -> None:
    console = memprof_section(bot).console
    assert console[0].startswith("memprof: WARNING: symbol tables make up 99.6% of memprof.bin (11.6 MB of 11.7 MB)")
    assert console[1] == "memprof: still live at the end (top 5 sites):"
    assert console[2] == ("    251 KB in    297 chunks (peak 251 KB)  @bot.lua:68  "
                          "for i = 1, #replies do delivered[#delivered + 1] = { body...")
    assert console[6] == "    9.5 KB in     95 chunks (peak 9.5 KB)  cjson.so+0x45d0"
    # Recorded before the harness put time-window markers in the stream.
    assert console[7] == "memprof: no time windows (no markers in the stream): growth over time not measured"
    assert console[8] == ("memprof: 6 sites in ljprof's own harness (/ljprof/harness/, /ljprof/profilers/) not shown: "
                          "1.0 KB live in 23 chunks")


def test_the_index_fragment_is_escaped_and_links_the_page(bot: RunDir) -> None:
    section = memprof_section(bot)
    fragment = section.html
    assert "<code>@bot.lua:68</code>" in fragment
    assert '<span class="parts">interpreted 145 KB, TRACE [13] 106 KB</span>' in fragment
    assert "cjson.encode({ method = &quot;sendMessage&quot;" in fragment
    assert "/ljprof/harness/run.lua" not in fragment.replace("(/ljprof/harness/, /ljprof/profilers/)", "")
    assert '<a href="memprof.html">memprof.html</a>' in fragment
    assert fragment.count("<tr><td>") == 10


def test_source_lines_are_escaped_in_html_and_markdown(tmp_path: Path) -> None:
    run = run_dir(tmp_path, lzma.decompress((RUN_BOT / "raw" / "memprof.bin.xz").read_bytes()))
    bot_lua = run.path / "sources" / "bot.lua"
    lines = bot_lua.read_text().split("\n")
    lines[67] = "x[#x+1] = '</code><script>alert(1)</script>' | `tick`"
    bot_lua.write_text("\n".join(lines))
    section = memprof_section(run)
    assert "<script>" not in section.html
    assert "&lt;/code&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in section.html
    assert "| `` x[#x+1] = '</code><script>alert(1)</script>' \\| `tick` `` |" in section.markdown


def test_the_markdown_is_a_small_table(bot: RunDir) -> None:
    markdown = memprof_section(bot).markdown.split("\n")
    assert markdown[0].startswith("> **Warning:** symbol tables make up 99.6%")
    table = [line for line in markdown if line.startswith("|")]
    assert table[:3] == [
        "| site | live | chunks | peak | source |",
        "| --- | ---: | ---: | ---: | --- |",
        "| `@bot.lua:68` | 251 KB | 297 | 251 KB | `for i = 1, #replies do delivered[#delivered + 1] = { body...` |",
    ]
    assert len(table) == 7


def test_the_pages_text_is_the_peers_and_json_and_html_have_our_measures(bot: RunDir) -> None:
    section = memprof_section(bot)
    assert [page.name for page in section.pages] == ["memprof.txt", "memprof.json", "memprof.html"]
    text = render(section, "memprof.txt")
    peer = (RUN_BOT / "memprof.bin.txt").read_text()  # luajit -tm on this file
    assert canonical_report(text) == canonical_report(peer)
    assert "cjson.so" not in text and "__cxa_finalize:0x7f22b63da000" in text
    data = json.loads(render(section, "memprof.json"))
    first = data["sites"][0]
    assert {k: first[k] for k in TOP if k != "location"} == {k: v for k, v in TOP.items() if k != "location"}
    assert [p["label"] for p in first["parts"]] == ["interpreted", "TRACE [13]"]
    assert data["warnings"] == section.summary["warnings"]
    page = render(section, "memprof.html")
    assert "memprof: bot, run 20261125T154010471Z-41cb76" in page
    assert "cjson.so+0x45d0" in page and "symbol tables make up 99.6%" in page


def test_a_cut_file(tmp_path: Path) -> None:
    section = memprof_section(run_dir(tmp_path, fixture_bytes("killed.bin.xz")))
    assert section.state == "cut"
    assert section.why == "the file ends after 4194304 bytes, inside an alloc event that starts at byte 4194302"
    assert section.console[0].startswith("memprof: WARNING: memprof.bin is incomplete: the file ends after")
    assert section.summary_top["memprof"]["top_sites"][0]["location"] == "@killed.lua:8"
    assert section.summary["cut"]["offset"] == 4194302
    assert "is incomplete" in section.html and "is incomplete" in section.markdown
    assert render(section, "memprof.txt").startswith("WARNING: ")


def test_an_empty_file(tmp_path: Path) -> None:
    section = memprof_section(run_dir(tmp_path, b""))
    assert (section.state, section.pages, section.summary) == ("empty", (), {"file": "raw/memprof.bin", "size": 0})
    assert "os.exit(code, true)" in section.why
    assert section.headline.startswith("memprof: no data (raw/memprof.bin is empty (0 bytes)")


def test_no_file(tmp_path: Path) -> None:
    section = memprof_section(run_dir(tmp_path, None))
    assert (section.state, section.pages) == ("absent", ())
    assert section.why == "no raw/memprof.bin: no file was written"
    assert section.summary_top == {"memprof": {"top_sites": []}}


def test_a_file_cut_inside_its_first_bytes_and_one_that_is_no_profile(tmp_path: Path) -> None:
    cut = memprof_section(run_dir(tmp_path / "a", b"ljs"))
    assert (cut.state, cut.pages) == ("cut", ())
    assert "cut inside the symbol table's prologue" in cut.why
    other = memprof_section(run_dir(tmp_path / "b", b"not a profile at all"))
    assert other.state == "crashed" and "not a memprof profile" in other.why


def test_a_run_without_sites_says_so(tmp_path: Path) -> None:
    head = b"ljs\x03\x00\x00\x00\x80ljm\x03\x00\x00\x00\x80"
    section = memprof_section(run_dir(tmp_path, head))
    assert section.state == "complete"
    assert section.headline == "memprof: nothing allocated during the profile is live at its end (0 events)"
    assert section.summary_top == {"memprof": {"top_sites": []}}


@pytest.mark.parametrize("jit_ran", [True, False])
def test_with_the_jit_profiler_on_its_recorders_sites_are_ljprofs(tmp_path: Path, jit_ran: bool) -> None:
    """jit.v allocates in the target's VM (fixture jit-v.bin.xz): ljprof's when its jit profiler ran it."""
    run = run_dir(tmp_path, fixture_bytes("jit-v.bin.xz"))
    profilers = {"memprof": {}, **({"jit": {}} if jit_ran else {})}
    run = RunDir(run.path, {**run.manifest, "profilers": profilers})
    section = memprof_section(run)
    recorder = "@/usr/share/luajit-2.1.0-beta3/jit/v.lua:77"
    if jit_ran:
        assert recorder not in " ".join(section.console) + section.html
        # the page's tables of every site keep it, of kind "ljprof" as the harness's rows
        assert f'{recorder}<span class="kind">ljprof</span>' in render(section, "memprof.html")
        assert section.console[-1] == ("memprof: 19 sites in ljprof's own harness (/ljprof/harness/, "
                                       "/ljprof/profilers/, the jit profiler's jit/*.lua) not shown: 444 B live "
                                       "in 7 chunks")
    else:  # the target ran jit.v itself: its sites are the target's
        assert f'{recorder}<span class="kind">lua</span>' in render(section, "memprof.html")
        assert section.console[-1].startswith("memprof: 13 sites in ljprof's own harness (/ljprof/harness/, "
                                              "/ljprof/profilers/) not shown")
    assert recorder in render(section, "memprof.txt")  # the peer's text, as the peer prints it
