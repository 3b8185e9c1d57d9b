"""memprof as text: Tarantool's parser's report (`luajit -tm FILE`), line for line.

The sections, their order and each line's format are the parser's
(tools/memprof/humanize.lua in the fork): ALLOCATIONS, REALLOCATIONS,
DEALLOCATIONS (left out with `leak_only`), HEAP SUMMARY, and ALIASES when
code loaded from strings allocated. Entries come in the model's order, which
is the parser's where it defines one (most events first; overrides by name;
most bytes held first) and breaks its ties by a fixed rule (see
`ljprof.profilers.memprof.model`).

Where the parser prints nothing (a file cut before its end marker), this
report starts with a WARNING saying where the file was cut and what the
report covers; a complete file gives exactly the parser's text.
"""

from __future__ import annotations

import math
from typing import TextIO

from ljprof.profilers.memprof.model import MemprofProfile, SiteStats

_UNITS = ("B", "KiB", "MiB", "GiB")


def format_bytes(count: int, human_readable: bool = False) -> str:
    """Bytes as the parser prints them: "1234B", or with --human-readable "1.21KiB"."""
    if not human_readable:
        return f"{count}B"
    value = float(count)
    unit = 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    if math.floor(value) == value:
        return f"{int(value)}{_UNITS[unit]}"
    return f"{value:.2f}{_UNITS[unit]}"


class MemprofTextReport:
    """Shapes nothing: the model is in report order already; `render` only formats."""

    def __init__(self, profile: MemprofProfile, *, leak_only: bool = False, human_readable: bool = False) -> None:
        self.profile = profile
        self.leak_only = leak_only
        self.human_readable = human_readable

    def render(self, out: TextIO) -> None:
        profile = self.profile
        size = self._bytes
        if profile.cut is not None:
            cut = profile.cut
            out.write(f"WARNING: {profile.source} is incomplete: {cut.reason} ({cut.where}).\n")
            out.write(
                f"WARNING: this report covers the {profile.counts.events} events before byte {cut.offset} "
                f"of {profile.size}.\n\n"
            )
        if profile.trailing_bytes:
            out.write(f"NOTE: {profile.trailing_bytes} bytes after the end marker of {profile.source} were "
                      "ignored.\n\n")
        if not self.leak_only:
            for title, section in (
                ("ALLOCATIONS", profile.allocations),
                ("REALLOCATIONS", profile.reallocations),
                ("DEALLOCATIONS", profile.deallocations),
            ):
                out.write(f"{title}\n")
                for stats in section:
                    self._site(out, stats)
                out.write("\n")
        out.write("HEAP SUMMARY:\n")
        for entry in profile.heap_summary:
            out.write(f"{entry.location.text} holds {size(entry.holds)}: {entry.allocs} allocs, "
                      f"{entry.frees} frees\n")
        out.write("\n")
        if profile.aliases:
            out.write("ALIASES:\n")
            for alias in profile.aliases:
                out.write(f"{alias.name}:\n")
                # The parser numbers the source's non-empty lines only.
                lines = [line for line in alias.source.split("\n") if line]
                for number, line in enumerate(lines, start=1):
                    out.write(f"{number}\t| {line}\n")
                out.write("\n\n")

    def _bytes(self, count: int) -> str:
        return format_bytes(count, self.human_readable)

    def _site(self, out: TextIO, stats: SiteStats) -> None:
        out.write(f"{stats.location.text}: {stats.events} events\t+{self._bytes(stats.allocated)}"
                  f"\t-{self._bytes(stats.freed)}\n")
        if stats.overrides:
            out.write("\tOverrides:\n")
            for override in stats.overrides:
                out.write(f"\t\t{override.location.text}\n")
            out.write("\n")


def render_text(profile: MemprofProfile, out: TextIO, *, leak_only: bool = False,
                human_readable: bool = False) -> None:
    """Write the text report of `profile` to `out`."""
    MemprofTextReport(profile, leak_only=leak_only, human_readable=human_readable).render(out)
