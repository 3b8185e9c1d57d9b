"""sysprof's part of a run's reports: its stacks through the shared flame-graph section
(ljprof/reporting/flame.py), and what happened when sysprof took the target down.

sysprof samples inside a SIGPROF handler and is known to kill targets
(tarantool/tarantool#11669, #11664, #11414, #11233): a target that throws
and catches errors in a loop hung or segfaulted under mode L, and mode C
aborts GC-heavy code. Such a run ends without the harness stopping sysprof:
the stream has no end marker, and holds what sysprof flushed before (a few
KB at most are lost: ljprof_sampler gives it a small buffer). The section is
then `crashed`, says how the target ended (the signal, or a hang ended by
SIGKILL or the timeout), keeps every flushed sample, and points to `cpu`.
"""

from __future__ import annotations

import html
from dataclasses import replace
from typing import Any

from ljprof.profilers.sysprof.names import STATE_FRAMES, Namer, parse_ffnames, stacks
from ljprof.profilers.sysprof.stream import VMSTATES, Decoded, SysprofFormatError, decode
from ljprof.reporting.flame import stacks_section
from ljprof.reporting.model import RunDir, Section, absent
from ljprof.reporting.runfacts import ending_of

FILE, FFNAMES, COUNTERS = "sysprof.bin", "sysprof.ffnames", "sysprof.counters"
SUGGESTION = "use the `cpu` profiler instead (jit.profile: the same flame graphs, not known to crash targets)"


def parse_counters(text: str) -> dict[str, int]:
    """raw/sysprof.counters: "<state> <count>" lines (samples, INTERP, LFUNC, ...)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def _switched(run: RunDir) -> tuple[bool, bool, str]:
    """(started, stopped cleanly, the harness's error) from the run's timeline."""
    started = stopped = False
    error = ""
    for e in run.events():
        detail = str(e.get("detail", ""))
        if e.get("event") == "start" and detail == "sysprof":
            started = True
        elif e.get("event") == "stop" and detail.startswith("sysprof"):
            stopped = detail == "sysprof"
            error = detail.partition(": ")[2]
        elif e.get("event") == "error" and detail.startswith("sysprof"):
            error = detail
    return started, stopped, error


def _death(run: RunDir) -> str:
    """How the target ended while sysprof ran, in words."""
    ending = ending_of(run.manifest)
    if ending.kind == "signal" and ending.stopped_by == "duration":
        return (f"the target hung: it did not stop at SIGINT after the duration and was killed by "
                f"{ending.signal} (a deadlock in sysprof's signal handler, or a loop that never checks SIGINT)")
    if ending.kind == "signal":
        return f"the target crashed: killed by {ending.signal} while sysprof was sampling it"
    if ending.kind == "timeout":
        return f"the target hung until the profile's timeout ({ending.message})"
    return f"the target ended without stopping sysprof ({ending.message})"


def sysprof_section(run: RunDir) -> Section:
    options = run.profiler_options("sysprof")
    mode = str(options.get("mode", "L"))
    interval = options.get("interval")
    interval_s = float(interval) if isinstance(interval, (int, float)) else None
    started, stopped, error = _switched(run)
    counters_path = run.raw / COUNTERS
    counters = parse_counters(counters_path.read_text(encoding="utf-8")) if counters_path.is_file() else {}
    extra: dict[str, Any] = {"mode": mode, "interval_ms": round(interval_s * 1000) if interval_s else None}
    if counters:
        extra["counters"] = counters
    if mode == "D":
        if not started:
            return absent("sysprof", error or "the harness did not start sysprof")
        if not counters:
            death = _death(run)
            return Section("sysprof", "crashed", why=death, headline=f"sysprof: crashed: {death}; {SUGGESTION}",
                           console=(f"  {SUGGESTION}",), summary=extra)
        by_state: dict[tuple[str, ...], int] = {(STATE_FRAMES[i],): counters[s] for i, s in enumerate(VMSTATES)
                                                if counters.get(s)}
        return stacks_section("sysprof", by_state, run, title="sysprof: VM states (mode D)", interval_s=interval_s,
                              extra=extra)
    path = run.raw / FILE
    if not path.is_file():
        return absent("sysprof", error or "no raw/sysprof.bin: the harness did not start sysprof")
    data = path.read_bytes()
    try:
        decoded = decode(data)
    except SysprofFormatError as exc:
        return Section("sysprof", "crashed", why=f"raw/{FILE}: {exc}", headline=f"sysprof: raw/{FILE}: {exc}",
                       summary=extra)
    ffnames_path = run.raw / FFNAMES
    ffnames = parse_ffnames(ffnames_path.read_text(encoding="utf-8")) if ffnames_path.is_file() else {}
    by_stack = stacks(decoded, Namer(decoded.csyms, ffnames, run.sources()))
    extra.update({"bytes": len(data), "complete": decoded.complete, "by_vmstate": decoded.by_vmstate()})
    state, why = _state(run, decoded, stopped, error)
    if why:
        extra["stream"] = decoded.reason or "complete"
    section = stacks_section("sysprof", by_stack, run, title=f"sysprof (mode {mode})", interval_s=interval_s,
                             state=state, why=why, extra=extra)
    if state == "complete":
        return section
    kept = f"{decoded.total:,} samples kept"
    headline = f"sysprof: {state}: {why}; {kept}" + (f"; {SUGGESTION}" if state == "crashed" else "")
    # index.html shows `why` already: this adds what was kept and what to do
    warn = f'<p class="warn">{kept}' + (f"; {html.escape(SUGGESTION)}.</p>" if state == "crashed" else ".</p>")
    console = (f"  {SUGGESTION}",) if state == "crashed" else ()
    return replace(section, headline=headline, html=warn + section.html, console=(*section.console, *console),
                   markdown=f"- {headline}\n\n" + section.markdown)


def _state(run: RunDir, decoded: Decoded, stopped: bool, error: str) -> tuple[str, str]:
    """The section's state and why, from the stream and whether the harness stopped sysprof."""
    if decoded.complete and stopped:
        return "complete", ""
    if not stopped:
        death = _death(run)
        return "crashed", f"{death}; the stream: {decoded.reason or 'it ends early'}"
    if error:
        return "cut", f"sysprof did not stop cleanly ({error}); the stream: {decoded.reason or 'it ends early'}"
    return "cut", decoded.reason or "the stream ends early"
