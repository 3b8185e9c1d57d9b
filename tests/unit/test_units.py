"""How reports write numbers."""

from __future__ import annotations

import pytest

from ljprof.reporting import units


@pytest.mark.parametrize(("kb", "text"), [
    (412.4, "412 KB"), (8335.68, "8,336 KB"), (10_000, "9.8 MB"), (19_866, "19.4 MB"), (12 * 1024 * 1024, "12.0 GB"),
    (float("nan"), "?"),
])
def test_format_kb(kb: float, text: str) -> None:
    assert units.format_kb(kb) == text


def test_sizes_side_by_side_share_a_unit() -> None:
    assert units.format_kb_pair(8294.6, 8620.7) == ("8,295 KB", "8,621 KB")
    assert units.format_kb_pair(8740, 10_684) == ("8.5 MB", "10.4 MB")
    assert units.format_kb_range(1230.2, 1485.1) == "1,230-1,485 KB"
    assert units.format_kb_range(12_000, 13_000) == "11.7-12.7 MB"


@pytest.mark.parametrize(("rate", "sign", "text"), [
    (4737.5, False, "4.6 MB/min"), (-193.6, True, "-194 KB/min"), (310, True, "+310 KB/min"), (0.3, True, "0 KB/min"),
    (-0.4, False, "0 KB/min"), (2400, True, "+2.3 MB/min"),
])
def test_format_kb_per_min(rate: float, sign: bool, text: str) -> None:
    assert units.format_kb_per_min(rate, sign=sign) == text


def test_other_units() -> None:
    assert (units.format_kb_per_s(640), units.format_kb_per_s(3433.8)) == ("640 KB/s", "3.4 MB/s")
    assert [units.format_seconds(s) for s in (0.454, 4.44, 95, 605, 600)] == [
        "0.45 s", "4.4 s", "95 s", "10 min 5 s", "10 min"]
    assert [units.format_bytes_short(b) for b in (512, 48 * 2**20, 2**30, 1.5 * 2**30)] == [
        "512 B", "48 MB", "1 GB", "1.5 GB"]
    assert (units.plural(1, "trace"), units.plural(1200, "abort")) == ("1 trace", "1,200 aborts")
