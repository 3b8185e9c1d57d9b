"""What ljprof's own memprof reports say, beyond the parser's text: one place for all of them.

The HTML page, the JSON report and the run's section (console, index.html,
summary.md, summary.json) show the same rows and the same warnings:

- the rows a user sees: `MemprofProfile.sites` without ljprof's harness
  (its Lua code under /ljprof/harness/, each profiler's harness.lua under
  /ljprof/profilers/, and its C module; with the jit profiler on, the
  recorder it runs: jit.v, jit.dump, loom) and the harness's
  time-window markers, each counted apart in a footnote; most bytes still
  live at the end first;
- a warning when the file was cut, and one when symbol tables make up most of
  a file that is large for it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ljprof.profilers.memprof.model import LiveSite, MemprofProfile
from ljprof.reporting.model import is_jit_recorder
from ljprof.reporting.units import human_bytes

# Symbol data above this share of the file, and above SYMBOL_WARN_BYTES, earns a warning:
# every file starts with a symbol table of some 120 KB, which is most of a small file.
SYMBOL_WARN_FRACTION = 0.5
SYMBOL_WARN_BYTES = 1 << 20


@dataclass(frozen=True)
class Hidden:
    """The harness's rows, left out of the user's view."""

    sites: int
    live_bytes: int
    live_chunks: int
    recorder: bool = False  # some are the jit profiler's recorder (jit.v, jit.dump, loom)

    def note(self) -> str:
        if not self.sites:
            return ""
        where = "/ljprof/harness/, /ljprof/profilers/" + (", the jit profiler's jit/*.lua" if self.recorder else "")
        return (f"{self.sites} site{'s' if self.sites != 1 else ''} in ljprof's own harness "
                f"({where}) not shown: {human_bytes(self.live_bytes)} live in {self.live_chunks:,} chunks")


def with_jit_recorder(profile: MemprofProfile) -> MemprofProfile:
    """The profile of a run with ljprof's jit profiler on: its recorder's sites (loom keeps every
    trace event; on scimark its four top sites were loom.lua's) count as the harness's."""
    sites = tuple(replace(s, harness=True) if is_jit_recorder(s.location.file) else s for s in profile.sites)
    return replace(profile, sites=sites)


def visible_sites(profile: MemprofProfile) -> list[LiveSite]:
    """The rows a user sees, in report order (the harness's and its markers left out)."""
    return [site for site in profile.sites if not site.harness and not site.marker]


def hidden(profile: MemprofProfile) -> Hidden:
    rows = [site for site in profile.sites if site.harness and not site.marker]
    return Hidden(len(rows), sum(r.stats.live_bytes for r in rows), sum(r.stats.live_chunks for r in rows),
                  any(is_jit_recorder(r.location.file) for r in rows))


def marker_note(profile: MemprofProfile) -> str:
    """The harness's time-window markers, left out of the rows (they stay in the parser's text)."""
    markers = profile.windows.markers
    if not markers:
        return ""
    rows = [site for site in profile.sites if site.marker]
    allocated = sum(w.allocated_bytes for row in rows for w in row.windows)
    return (f"{markers:,} time-window marker{'s' if markers != 1 else ''} of ljprof's harness (=ljprof_marker:1, "
            f"{human_bytes(allocated)} allocated) not shown")


def growing_sites(profile: MemprofProfile) -> list[LiveSite]:
    """The rows a user sees whose live bytes keep rising from window to window (windows.py)."""
    return [site for site in visible_sites(profile) if site.growing]


def cut_warning(profile: MemprofProfile) -> str:
    cut = profile.cut
    if cut is None:
        return ""
    return (f"memprof.bin is incomplete: {cut.reason} ({cut.where}). These reports cover the "
            f"{profile.counts.events:,} events before byte {cut.offset:,} of {profile.size:,}; what was live "
            "at the end is what was live at the cut.")


def symbol_warning(profile: MemprofProfile) -> str:
    symbols = profile.symbols
    fraction = symbols.fraction(profile.size)
    if fraction <= SYMBOL_WARN_FRACTION or symbols.bytes <= SYMBOL_WARN_BYTES:
        return ""
    text = (f"symbol tables make up {fraction:.1%} of memprof.bin ({human_bytes(symbols.bytes)} of "
            f"{human_bytes(profile.size)}).")
    if symbols.c_runs:
        text += (f" Tarantool's LuaJIT wrote its C symbol table again before each of the events that came "
                 f"from C functions ({symbols.c_runs:,} runs of C symbols, one per library; its memprof never "
                 "advances its count of libraries already written, src/lj_symtab.c). The events are all "
                 "there; only the file is bigger.")
    return text


def warnings(profile: MemprofProfile) -> list[str]:
    return [w for w in (cut_warning(profile), symbol_warning(profile)) if w]


def untracked_note(profile: MemprofProfile) -> str:
    """Frees and reallocs of chunks the stream never showed being allocated (before the profile started).

    Notes (this and `Hidden.note`) end without a full stop: each report ends them its own way."""
    c = profile.counts
    parts = []
    if c.unknown_frees:
        parts.append(f"{c.unknown_frees:,} frees")
    if c.unknown_reallocs:
        parts.append(f"{c.unknown_reallocs:,} reallocs")
    if not parts:
        return ""
    return (f"{' and '.join(parts)} released chunks allocated before the profile started: they count in "
            "the parser's sections, not in what is live here")
