"""The heap verdict on synthetic series: leaks grow, GC sawtooths with a flat floor stay flat."""

from __future__ import annotations

import random

import pytest

from ljprof.profilers.gc.verdict import heap_verdict

DT = 0.1  # the sampler's default interval


def times(seconds: float) -> list[float]:
    return [round(i * DT, 6) for i in range(int(seconds / DT) + 1)]


def sawtooth(t: list[float], floor: float, slope_kb_s: float, climb_kb: float, seed: int) -> list[float]:
    """A GC'd heap: climbs `climb_kb` a sample for 8 to 14 samples, then a cycle drops it back to the floor
    (the floor rising `slope_kb_s`), give or take 2% for what the sweep caught."""
    rng = random.Random(seed)
    out = []
    level = floor
    cycle = rng.randint(8, 14)
    for i, x in enumerate(t):
        base = floor + slope_kb_s * x
        if i % cycle == 0:
            level = base * (1 + rng.uniform(-0.02, 0.02))
            cycle = rng.randint(8, 14) if i else cycle
        else:
            level += climb_kb
        out.append(level)
    return out


def within(actual: float | None, expected: float, fraction: float = 0.10) -> bool:
    return actual is not None and abs(actual - expected) <= abs(expected) * fraction


def test_a_steady_leak_grows_with_its_slope() -> None:
    t = times(60)
    kb = [8500 + 40 * x for x in t]  # 40 KB/s on an 8.5 MB heap: 2,400 KB/min
    v = heap_verdict(t, kb, None)
    assert (v.growing, v.trend, v.windows) == (True, "growing", 10)
    assert within(v.slope_kb_per_min, 2400)
    assert v.reason == "floor rose from 8.5 MB to 10.4 MB over 54.0 s, 2.3 MB/min"
    assert (v.samples, v.start_kb, v.end_kb, v.peak_kb) == (601, 8500, 10900, 10900)
    assert v.warmup_s == pytest.approx(6.0)


def test_a_staircase_like_the_bots_leak_grows() -> None:
    # the bot: 37 KB kept every half second (a batch of replies), sampled every 100 ms, for 5 s
    t = times(5)
    kb = [8294 + 37 * int(x / 0.5 + 1e-9) for x in t]
    v = heap_verdict(t, kb, 0.003)
    assert v.growing is True
    assert within(v.slope_kb_per_min, 37 * 2 * 60)


def test_a_sawtooth_with_a_flat_floor_is_flat() -> None:
    t = times(60)
    for seed in range(20):
        kb = sawtooth(t, 2000, 0.0, 150, seed)
        v = heap_verdict(t, kb, None)
        assert (v.growing, v.trend) == (False, "flat"), (seed, v.reason)
        assert v.reason.startswith("floor stayed within 1,9") or "no steady trend" in v.reason, v.reason
        assert v.peak_kb is not None and v.peak_kb > 3000  # the peaks, which are not a leak


def test_a_sawtooth_with_a_rising_floor_grows_with_the_floors_slope() -> None:
    t = times(60)
    for seed in range(20):
        kb = sawtooth(t, 2000, 20.0, 150, seed)  # the floor rises 1,200 KB/min under 1.2-2 MB climbs
        v = heap_verdict(t, kb, None)
        assert v.growing is True, (seed, v.reason)
        assert within(v.slope_kb_per_min, 1200), (seed, v.slope_kb_per_min)


def test_a_heap_that_shrinks_is_not_growing() -> None:
    t = times(30)
    kb = [50_000 - 100 * x for x in t]
    v = heap_verdict(t, kb, None)
    assert (v.growing, v.trend) == (False, "shrinking")
    assert within(v.slope_kb_per_min, -6000)
    assert v.reason.startswith("floor fell from 48.3 MB to 45.9 MB over 27.0 s, -5.9 MB/min")


def test_growth_during_the_warm_up_is_not_a_leak() -> None:
    t = times(30)
    flat = sawtooth(t, 5000, 0.0, 100, seed=1)
    # the first 10%: loading modules, filling caches, from 100 KB to the working set
    kb = [100 + (flat[i] - 100) * x / 3.0 if x < 3.0 else flat[i] for i, x in enumerate(t)]
    v = heap_verdict(t, kb, None)
    assert (v.growing, v.trend) == (False, "flat"), v.reason
    assert v.start_kb == 100


def test_a_mark_later_than_10_percent_ends_the_warm_up() -> None:
    t = times(30)
    flat = sawtooth(t, 5000, 0.0, 100, seed=2)
    kb = [f if x < 7.5 else f + 3000 for f, x in zip(flat, t, strict=True)]  # a cache filled at 25%
    unmarked = heap_verdict(t, kb, None)
    # one step after the warm-up is not a steady rise: flat, and the reason shows the range it moved in
    assert unmarked.growing is False
    assert unmarked.reason.startswith("floor moved within 4,9") and "no steady trend" in unmarked.reason
    marked = heap_verdict(t, kb, 9.0)  # ljprof.mark("cache warmed") at 30%
    assert (marked.growing, marked.warmup_s) == (False, 9.0)
    assert marked.reason.startswith("floor stayed within 7,9"), marked.reason
    early = heap_verdict(t, kb, 0.5)  # a mark before 10%: the 10% still holds
    assert early.warmup_s == pytest.approx(3.0)


def test_floors_that_wander_without_a_trend_are_flat() -> None:
    t = times(20)
    # floors alternate 4,000 and 4,600 KB window by window, with a last high one tilting the line
    kb = []
    for x in t:
        window = min(9, int((x - 2.0) / 1.8)) if x >= 2.0 else 0
        kb.append(4600.0 if window % 2 or window == 9 else 4000.0)
    v = heap_verdict(t, kb, None)
    assert (v.growing, v.trend) == (False, "flat")
    assert "no steady trend" in v.reason, v.reason


@pytest.mark.parametrize("count", [0, 1, 2, 5])
def test_too_short_to_judge(count: int) -> None:
    t = times(5)[:count]
    kb = [1000.0 + i for i in range(count)]
    v = heap_verdict(t, kb, None)
    assert v.growing is None and v.slope_kb_per_min is None and v.trend == "unknown"
    assert v.reason.startswith(f"too short to judge: {count} samples")
    assert v.samples == count
    assert v.peak_kb == (max(kb) if kb else None)


def test_two_windows_of_three_samples_are_enough() -> None:
    t = times(0.7)[:7]  # 7 samples: 6 after the warm-up
    v = heap_verdict(t, [1000.0 + 100 * i for i in range(7)], None)
    assert v.windows == 2 and v.growing is True


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        heap_verdict([0.0, 1.0], [1.0], None)
