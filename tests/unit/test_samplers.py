"""gc.csv and metrics.csv as the samplers' sections read them: every state, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ljprof.profilers import PROFILERS
from ljprof.profilers.series import read_samples
from ljprof.reporting.model import RunDir

METRICS_HEADER = ("t,strhash_hit,strhash_miss,gc_strnum,gc_tabnum,gc_udatanum,gc_cdatanum,gc_total,gc_freed,"
                  "gc_allocated,gc_steps_pause,gc_steps_propagate,gc_steps_atomic,gc_steps_sweepstring,"
                  "gc_steps_sweep,gc_steps_finalize,jit_snap_restore,jit_trace_abort,jit_mcode_size,jit_trace_num")


def make_run(tmp_path: Path, files: dict[str, str | bytes], timeline: list[dict[str, object]] | None = None,
             profilers: tuple[str, ...] = ("gc", "metrics")) -> RunDir:
    raw = tmp_path / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if isinstance(content, bytes):
            (raw / name).write_bytes(content)
        else:
            (raw / name).write_text(content, encoding="utf-8")
    manifest = {"profile": "p", "run_id": "r1", "profilers": {name: {} for name in profilers},
                "timeline": timeline or []}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return RunDir.load(tmp_path)


# --- the shared reader ------------------------------------------------------------------------------


def test_a_complete_csv(tmp_path: Path) -> None:
    path = tmp_path / "gc.csv"
    path.write_text("t,kb\n0.0,10\n0.1,12.5\n")
    s = read_samples(path, ("kb",))
    assert (s.state, s.why, s.columns, s.rows) == ("complete", "", ("t", "kb"), ((0.0, 10.0), (0.1, 12.5)))
    assert s.column("kb") == ((0.0, 0.1), (10.0, 12.5))
    assert s.column("nope") == ((), ())


@pytest.mark.parametrize(("content", "state", "why"), [
    (None, "absent", "no raw/gc.csv was written"),
    (b"", "empty", "raw/gc.csv is empty (not even its header)"),
    (b"t,k", "empty", "raw/gc.csv was cut within its header"),
    (b"t,kb\n", "empty", "raw/gc.csv has its header and no sample"),
    (b"when,kb\n0,1\n", "absent", "raw/gc.csv has an unexpected header 'when,kb' (expected t,kb,...)"),
    (b"t,mb\n0,1\n", "absent", "raw/gc.csv has an unexpected header 't,mb' (expected t,kb,...)"),
    (b"t,kb\n0.0,1\n0.1,2\n0.2,3", "cut",
     "raw/gc.csv ends within a line (the process was killed while writing?); its 2 complete samples are read"),
    (b"t,kb\n0.0,1\n0.1,zz\n0.2,3\n", "cut",
     "raw/gc.csv: line 3 is not a sample ('0.1,zz'); the 1 samples before it are read"),
    (b"t,kb\n0.0,1\n0.1,2,3\n", "cut",
     "raw/gc.csv: line 3 is not a sample ('0.1,2,3'); the 1 samples before it are read"),
    (b"t,kb\n0.5,1\n0.1,2\n", "cut",
     "raw/gc.csv: line 3 is not a sample ('0.1,2'); the 1 samples before it are read"),
    (b"t,kb\n0.0,nan\n", "cut",
     "raw/gc.csv: line 2 is not a sample ('0.0,nan'); the 0 samples before it are read"),
])
def test_states_of_a_csv(tmp_path: Path, content: bytes | None, state: str, why: str) -> None:
    path = tmp_path / "gc.csv"
    if content is not None:
        path.write_bytes(content)
    s = read_samples(path, ("kb",))
    assert (s.state, s.why) == (state, why)


def test_binary_garbage_is_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "gc.csv"
    path.write_bytes(b"t,kb\n\xff\xfe\x00\x01\n")
    s = read_samples(path, ("kb",))
    assert s.state == "cut" and s.rows == ()


def test_an_optional_column_may_be_empty(tmp_path: Path) -> None:
    path = tmp_path / "gc.csv"
    path.write_text("t,kb,container_kb\n0.0,10,2000\n0.1,11,\n0.2,12,2100\n")
    s = read_samples(path, ("kb",))
    assert s.state == "complete"
    assert s.column("container_kb") == ((0.0, 0.2), (2000.0, 2100.0))
    assert s.column("kb") == ((0.0, 0.1, 0.2), (10.0, 11.0, 12.0))


def test_assess_counts_complete_lines_only(tmp_path: Path) -> None:
    (tmp_path / "gc.csv").write_text("t,kb\n0.0,1\n0.1,2\n0.2,")
    facts = PROFILERS["gc"].assess(tmp_path)
    assert (facts["present"], facts["samples"], facts["last_t"]) == (True, 2, 0.1)
    assert "ends within a line" in facts["why"]
    assert PROFILERS["gc"].assess(tmp_path / "nowhere") == {"present": False, "samples": 0}


# --- gc's section -------------------------------------------------------------------------------------


def test_gc_without_its_file_is_absent_with_the_harness_word(tmp_path: Path) -> None:
    run = make_run(tmp_path, {}, timeline=[
        {"event": "error", "t": 0.0, "detail": "ljprof_sampler is not in this image: gc and metrics are not sampled"}])
    s = PROFILERS["gc"].report(run)
    assert (s.state, s.series, s.summary_top) == ("absent", (), {})
    assert s.why == ("no raw/gc.csv was written: ljprof_sampler is not in this image: gc and metrics are not "
                     "sampled")
    assert s.headline == f"gc: no data ({s.why})"


def test_gc_with_only_a_header_is_empty(tmp_path: Path) -> None:
    s = PROFILERS["gc"].report(make_run(tmp_path, {"gc.csv": "t,kb\n"}))
    assert (s.state, s.why, s.summary) == ("empty", "raw/gc.csv has its header and no sample", {"samples": 0})


def test_gc_with_one_sample_cannot_judge(tmp_path: Path) -> None:
    s = PROFILERS["gc"].report(make_run(tmp_path, {"gc.csv": "t,kb\n0.0,50\n"}))
    assert s.state == "complete"
    assert s.headline == "Lua heap: too short to judge: 1 samples (1 after the warm-up, 6 needed)"
    assert s.summary_top["heap"]["growing"] is None
    assert s.series[0].t == (0.0,)


def test_gc_reads_the_container_column(tmp_path: Path) -> None:
    rows = "".join(f"{i / 10:.1f},{1000 + 50 * i},{5000 + 10 * i}\n" for i in range(30))
    s = PROFILERS["gc"].report(make_run(tmp_path, {"gc.csv": "t,kb,container_kb\n" + rows}))
    assert [(x.panel, x.label, x.unit) for x in s.series] == [("memory", "Lua heap", "KB"),
                                                              ("memory", "container memory", "KB")]
    assert s.summary_top["container"] == {"peak_kb": 5290.0, "end_kb": 5290.0, "samples": 30}
    assert s.summary_top["heap"]["growing"] is True
    assert s.summary["container"] is True


def test_the_sample_after_the_target_ended_is_left_out_only_when_the_harness_stopped_the_sampler(
        tmp_path: Path) -> None:
    rows = "".join(f"{i / 10:.1f},{5000 + (i % 5) * 100}\n" for i in range(40)) + "4.0,100\n"
    stopped = PROFILERS["gc"].report(make_run(tmp_path / "a", {"gc.csv": "t,kb\n" + rows},
                                              timeline=[{"event": "stop", "t": 4.01, "detail": "sampler"}]))
    assert stopped.summary_top["heap"]["samples"] == 40 and stopped.summary_top["heap"]["trend"] == "flat"
    assert "after the target ended: 100 KB (left out of the verdict)" in stopped.console[-1]
    killed = PROFILERS["gc"].report(make_run(tmp_path / "b", {"gc.csv": "t,kb\n" + rows}))
    assert killed.summary_top["heap"]["samples"] == 41


def test_gc_uses_the_first_mark_for_the_warm_up(tmp_path: Path) -> None:
    rows = "".join(f"{i / 10:.1f},{100 * i if i < 30 else 3000 + (i % 4) * 50}\n" for i in range(100))
    run = make_run(tmp_path, {"gc.csv": "t,kb\n" + rows},
                   timeline=[{"event": "mark", "t": 3.0, "detail": "cache filled"},
                             {"event": "mark", "t": 6.0, "detail": "later"}])
    s = PROFILERS["gc"].report(run)
    assert s.summary_top["heap"]["warmup_s"] == 3.0
    assert s.summary_top["heap"]["trend"] == "flat"


# --- metrics' section ----------------------------------------------------------------------------------


def metrics_rows(count: int, reset_at: int | None = None) -> str:
    out = []
    for i in range(count):
        k = i if reset_at is None or i < reset_at else i - reset_at
        allocated = 1024 * 100 * k  # 100 KB per sample: 1,000 KB/s at 0.1 s
        out.append(",".join(str(x) for x in (
            f"{i / 10:.1f}", 10 * k, 2 * k, 300 + i, 50 + i, 5, 0, 1000, allocated // 2, allocated,
            k, k, k, k, k, k, k, k // 5, 65536, min(i, 24))))
    return "\n".join(out) + "\n"


def test_metrics_rates_and_levels(tmp_path: Path) -> None:
    s = PROFILERS["metrics"].report(make_run(tmp_path, {"metrics.csv": METRICS_HEADER + "\n" + metrics_rows(51)}))
    assert s.state == "complete"
    assert s.headline == "metrics: allocated 1.0 MB/s on average; 24 traces at the end, 10 aborts"
    by_label = {x.label: x for x in s.series}
    assert by_label["allocated"].panel == "allocation" and by_label["allocated"].unit == "KB/s"
    assert by_label["allocated"].v == pytest.approx([1000.0] * 50)
    assert by_label["GC steps"].v == pytest.approx([60.0] * 50)  # six step counters, each +1 a sample
    assert by_label["tables"].panel == "levels" and by_label["tables"].v[-1] == 100
    assert by_label["JIT machine code (KB)"].v[-1] == 64
    assert (s.summary["allocated_kb"], s.summary["trace_aborts"], s.summary["traces_end"]) == (5000, 10, 24)
    assert "| allocated | 5,000 KB (1.0 MB/s on average) |" in s.markdown


def test_metrics_survive_a_counter_reset(tmp_path: Path) -> None:
    s = PROFILERS["metrics"].report(
        make_run(tmp_path, {"metrics.csv": METRICS_HEADER + "\n" + metrics_rows(51, reset_at=20)}))
    allocated = next(x for x in s.series if x.label == "allocated")
    assert min(allocated.v) >= 0
    # 19 intervals before the reset, the reset interval counts the new value (0), 30 after
    assert s.summary["allocated_kb"] == 100 * 19 + 100 * 30


@pytest.mark.parametrize(("content", "state"), [
    (None, "absent"), (METRICS_HEADER + "\n", "empty"), ("t,foo,bar\n0,1,2\n", "absent"),
])
def test_metrics_without_data(tmp_path: Path, content: str | None, state: str) -> None:
    files = {} if content is None else {"metrics.csv": content}
    s = PROFILERS["metrics"].report(make_run(tmp_path, files))
    assert s.state == state and s.series == () and s.headline.startswith("metrics: no data (")


def test_metrics_cut_mid_line(tmp_path: Path) -> None:
    text = METRICS_HEADER + "\n" + metrics_rows(11)
    s = PROFILERS["metrics"].report(make_run(tmp_path, {"metrics.csv": text[:-30]}))
    assert s.state == "cut" and s.summary["samples"] == 10
    assert s.console == (f"  {s.why}",)
