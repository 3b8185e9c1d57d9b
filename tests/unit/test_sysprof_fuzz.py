"""Fuzzing the sysprof decoder with cut and corrupted recorded streams.

Every input ends in SysprofFormatError (not a sysprof stream) or in what it
holds: never another exception, never a hang. A cut keeps every sample
before it (no sample of a prefix is counted more often than in the whole),
and says why it is not complete.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ljprof.profilers.sysprof import Namer, SysprofFormatError, decode, stacks
from tests.unit.fuzzing import FUZZ, watchdog  # noqa: F401 - watchdog is an autouse fixture

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sysprof"
STREAMS = {m: (FIXTURES / f"hot-{m}.bin").read_bytes() for m in "LC"}
WHOLE = {m: decode(data) for m, data in STREAMS.items()}
SAMPLES_AT = {m: len(data) - 3000 for m, data in STREAMS.items()}  # inside the samples of each stream


@FUZZ
@given(mode=st.sampled_from("LC"), cut=st.integers(min_value=0))
def test_a_cut_stream_keeps_what_came_before(mode: str, cut: int) -> None:
    data = STREAMS[mode]
    cut %= len(data)
    decoded = decode(data[:cut])
    assert not decoded.complete and decoded.reason
    whole = WHOLE[mode].samples
    assert all(n <= whole[s] for s, n in decoded.samples.items())
    if cut < len(data) - 1:
        assert decode(data[:cut + 1]).total >= decoded.total


@FUZZ
@given(mode=st.sampled_from("LC"), edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)),
                                                  min_size=1, max_size=8))
def test_corrupt_bytes_end_in_an_error_or_a_profile(mode: str, edits: list[tuple[int, int]]) -> None:
    data = bytearray(STREAMS[mode])
    for pos, value in edits:
        data[pos % len(data)] = value
    try:
        decoded = decode(bytes(data))
    except SysprofFormatError:
        return
    assert decoded.complete or decoded.reason
    stacks(decoded, Namer(decoded.csyms, {}, None))  # every frame can be named


@FUZZ
@given(mode=st.sampled_from("LC"), junk=st.binary(min_size=1, max_size=200))
def test_made_up_samples_after_real_ones(mode: str, junk: bytes) -> None:
    data = STREAMS[mode][:SAMPLES_AT[mode]] + junk
    decoded = decode(data)
    assert decoded.complete or decoded.reason
    stacks(decoded, Namer(decoded.csyms, {}, None))
