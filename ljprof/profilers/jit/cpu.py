"""The join no single tool makes: the JIT's trace log against where the CPU time went.

A `cpu` or `sysprof` profiler gives CPU samples per line (`@file.lua:N` ->
samples). A line that aborts traces matters when the program spends its time
there: such rows come first ("hot and aborting"), with their share of all
samples; rows on lines without samples keep their order after them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ljprof.profilers.jit.model import Group


@dataclass(frozen=True)
class HotRow:
    group: Group
    samples: int  # CPU samples on the row's line
    share: float  # of all the run's samples (0 when there are none)


def hot_first(groups: Sequence[Group], cpu: Mapping[str, int]) -> list[HotRow]:
    """`groups` with their lines' CPU samples, the most sampled first; ties (and no samples) keep their order."""
    total = sum(cpu.values())
    rows = [HotRow(g, cpu.get(g.location, 0), cpu.get(g.location, 0) / total if total else 0.0) for g in groups]
    return sorted(rows, key=lambda r: -r.samples)  # sorted() is stable: equal samples keep the groups' order
