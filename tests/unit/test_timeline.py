"""Timeline shaping: rates from counters, decimation that keeps peaks, the chart's JSON."""

from __future__ import annotations

import json

import pytest

from ljprof.reporting.model import Mark, Series
from ljprof.reporting.timeline import (
    chart_data,
    chart_json,
    counter_increase,
    decimate,
    rates,
    sparkline,
)


def test_rates_of_a_counter() -> None:
    assert rates([0.0, 0.5, 1.0], [0.0, 50.0, 150.0]) == ((0.5, 1.0), (100.0, 200.0))
    assert rates([], []) == ((), ())
    assert rates([1.0], [5.0]) == ((), ())


def test_a_counter_that_restarts_counts_its_new_value() -> None:
    t, v = rates([0.0, 1.0, 2.0, 3.0], [100.0, 200.0, 30.0, 60.0])
    assert (t, v) == ((1.0, 2.0, 3.0), (100.0, 30.0, 30.0))
    assert counter_increase([100.0, 200.0, 30.0, 60.0]) == 160.0
    assert counter_increase([]) == 0.0


def test_samples_at_the_same_time_add_to_the_next_interval() -> None:
    t, v = rates([0.0, 1.0, 1.0, 2.0], [0.0, 10.0, 25.0, 45.0])
    assert t == (1.0, 2.0)
    assert v == (10.0, 35.0)  # the 15 at t=1.0 twice is not lost, and nothing is divided by zero
    t, v = rates([0.0, 0.0, 0.0], [0.0, 1.0, 2.0])
    assert (t, v) == ((), ())


def test_decimation_keeps_peaks_and_floors() -> None:
    n = 60_000
    t = [i * 0.01 for i in range(n)]
    v = [float(i % 100) for i in range(n)]  # a sawtooth: 0..99
    v[31_337] = 10_000.0  # one spike
    v[45_678] = -500.0  # one dip
    dt, dv = decimate(t, v, 2000)
    assert len(dt) <= 2002
    assert max(dv) == 10_000.0 and min(dv) == -500.0
    assert dt[0] == t[0] and dt[-1] == t[-1]
    assert list(dt) == sorted(dt)
    assert decimate(t[:100], v[:100], 2000) == (tuple(t[:100]), tuple(v[:100]))


def test_decimation_with_one_time() -> None:
    dt, dv = decimate([1.0] * 5000, [float(i) for i in range(5000)], 100)
    assert len(dt) <= 102 and max(dv) == 4999.0 and min(dv) == 0.0


def test_chart_data_is_rounded_ordered_and_stable() -> None:
    series = [
        Series("levels", "tables", "", (0.0, 1.0), (1.0, 2.0)),
        Series("memory", "Lua heap", "KB", (0.000123456, 1.23456789), (8294.648437, 8300.000001)),
        Series("custom", "other", "x", (0.5,), (1 / 3,)),
        Series("memory", "container memory", "KB", (0.0, 1.0), (4000.0, 4100.0)),
    ]
    data = chart_data(series, [Mark(0.5, "warm <b>")], [Mark(0.1, "memprof", 0.9)])
    assert [p["name"] for p in data["panels"]] == ["memory", "levels", "custom"]
    memory = data["panels"][0]
    assert (memory["title"], memory["unit"]) == ("Memory", "KB")
    assert [s["label"] for s in memory["series"]] == ["Lua heap", "container memory"]
    assert memory["series"][0]["t"] == [0.0001, 1.2346]
    assert memory["series"][0]["v"] == [8294.65, 8300]
    assert data["panels"][2]["series"][0]["v"] == [0.333333]
    assert data["marks"] == [{"t": 0.5, "label": "warm <b>"}]
    assert data["bands"] == [{"t0": 0.1, "t1": 0.9, "label": "memprof"}]
    assert (data["t0"], data["t1"], data["samples"]) == (0.0, 1.2346, 2)
    text = chart_json(data)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == data
    assert text == chart_json(chart_data(series, [Mark(0.5, "warm <b>")], [Mark(0.1, "memprof", 0.9)]))


def test_chart_data_of_nothing() -> None:
    assert chart_data([]) == {"t0": 0.0, "t1": 0.0, "samples": 0, "panels": [], "marks": [], "bands": []}


def test_a_switch_left_on_ends_with_the_run() -> None:
    data = chart_data([Series("memory", "Lua heap", "KB", (0.0, 5.0), (1.0, 2.0))], [], [Mark(1.0, "memprof")])
    assert data["bands"] == [{"t0": 1.0, "t1": 5.0, "label": "memprof"}]


@pytest.mark.parametrize(("values", "expected"), [
    ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], "▁▂▃▄▅▆▇█"),
    ([5.0, 5.0, 5.0], "▁▁▁"),
    ([], ""),
])
def test_sparkline(values: list[float], expected: str) -> None:
    assert sparkline([float(i) for i in range(len(values))], values, width=8) == expected
