"""What a profiler plug-in is: a name, its options, what it needs from the image,
what it asks of the Lua harness, and what it makes of its raw files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ljprof.reporting.model import RunDir, Section


@dataclass(frozen=True)
class Option:
    """One option of a profiler's block in profiles.yml."""

    # "duration" (seconds; "100ms", "2s", 0.5) | "bool" | "choice" | "count" (a whole number >= minimum)
    # | "text" (checked by `check`) | "mapping" (of `fields`; its default is None or a dict of their defaults)
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: float = 0.0  # for durations and counts: the smallest value that makes sense
    can_be_off: bool = False  # for durations: `false` switches it off (the value is then 0)
    fields: Mapping[str, Option] = field(default_factory=dict)  # for mappings
    # for text: '' when the string is right, else what is wrong and what would be right
    check: Callable[[str], str] | None = None


def signals_of(profiler: object) -> tuple[str, ...]:
    """The process-wide resources a profiler takes for itself (e.g. SIGPROF, which jit.profile and
    sysprof both use): two profilers that take one cannot run in one profile, and the loader says so.
    A profiler declares them as a `signals` attribute (tuple of names); most have none."""
    return tuple(getattr(profiler, "signals", ()))


class Profiler(Protocol):
    name: str
    summary: str
    options: Mapping[str, Option]

    def image_problem(self, facts: Mapping[str, Any], options: Mapping[str, Any]) -> str:
        """'' when the image can run this profiler with these options, else why not (from image.json facts)."""
        ...

    def harness_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """What the Lua harness gets under profilers.<name> (plain values only)."""
        ...

    def outputs(self) -> dict[str, str]:
        """Raw files this profiler writes (name in raw/, or a pattern with `*` for numbered ones -> what it is)."""
        ...

    def assess(self, raw: Path) -> dict[str, Any]:
        """Facts about the raw files for the manifest (complete or cut, counts); cheap, no parsing."""
        ...

    def report(self, run: RunDir) -> Section:
        """Parse its raw files in `run` into a model and say what the run's reports get from it.

        Never raises for missing or cut files: the section's state and `why` say so."""
        ...
