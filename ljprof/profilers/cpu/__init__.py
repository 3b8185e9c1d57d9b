"""cpu: where the CPU time goes, from LuaJIT's own sampler (jit.profile, what `luajit -jp` uses),
on every image (upstream LuaJIT and Tarantool's fork), JIT on.

The harness (harness.lua here) counts stacks in the VM and rewrites raw/cpu.txt whole about every
second (tmp + rename), so a killed target keeps the last flush (state `cut`). Here its lines become
`ljprof.reporting.flame.Stacks`: Lua frames named `@chunk:line name` (the path as loaded, target
files relative to their folder), fast functions `[builtin#N] name`, C functions `[C 0x...] name`, and
the VM state as the leaf pseudo-frame (`[interpreted]`, `[compiled]`, `[C]`, `[GC]`, `[JIT compiler]`).
ljprof's own frames at the root of each stack (run.lua, its xpcall) are cut off; a sample with only
harness frames is counted apart (`harness_samples`).

jit.profile and sysprof both use SIGPROF: `signals` makes the loader refuse both in one profile.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ljprof.container import TARGET_DIR
from ljprof.profilers.base import Option
from ljprof.reporting import flame
from ljprof.reporting.model import HARNESS_PREFIXES, RunDir, Section, absent

FILE = "cpu.txt"
STATES = {"I": "interpreted", "N": "compiled", "C": "C", "G": "GC", "J": "JIT compiler"}
_HEADER = re.compile(r"^# ljprof cpu 1 (.*)$")
_LUA = re.compile(r"^(?P<path>.+?):(?P<line>-?\d+)(?: (?P<name>.*))?$")
_BUILTIN = re.compile(r"^\[builtin#(\d+)\](?: (.*))?$")
_CFUNC = re.compile(r"^@(0x[0-9a-fA-F]+)(?: (.*))?$")


@dataclass
class CpuRaw:
    """raw/cpu.txt read back: stacks, and what the header says."""

    stacks: dict[tuple[str, ...], int] = field(default_factory=dict)
    interval_s: float = 0.01
    depth: int = 0
    flushes: int = 0
    final: bool = False
    harness_samples: int = 0


def _frame(text: str) -> str:
    """One dumpstack frame ("path:line name") as flame.py names frames."""
    m = _BUILTIN.match(text)
    if m:
        return f"[builtin#{m[1]}] {m[2]}" if m[2] else f"[builtin#{m[1]}]"
    m = _CFUNC.match(text)
    if m:
        return f"[C {m[1]}] {m[2]}" if m[2] and not m[2].startswith("@0x") else f"[C {m[1]}]"
    m = _LUA.match(text)
    if not m:
        return text
    path, line, name = m["path"], int(m["line"]), m["name"] or ""
    if path.startswith(TARGET_DIR + "/"):
        path = path[len(TARGET_DIR) + 1:]
    # 'f' without a known name prints the function's own "path:firstline": say it as Lua's tracebacks do
    anon = _LUA.match(name)
    if anon and anon["path"] == m["path"]:
        name = "(main chunk)" if anon["line"] == "0" else f"<{path.rsplit('/', 1)[-1]}:{anon['line']}>"
    return f"@{path}:{line} {name}".rstrip()


class _Names(dict[str, str]):
    """Frames named once each (_frame), looked up by a map() in C for the rest of a million samples."""

    def __missing__(self, frame: str) -> str:
        self[frame] = named = _frame(frame)
        return named


def parse(text: str) -> CpuRaw:
    """raw/cpu.txt -> stacks (harness frames at the root cut off); a malformed line is skipped."""
    raw = CpuRaw()
    pairs: list[tuple[tuple[str, ...], int]] = []
    names = _Names()  # dumpstack's frame -> ours: a profile has few distinct frames
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            fields = dict(part.split("=", 1) for part in header[1].split() if "=" in part)
            raw.interval_s = float(fields.get("interval_ms", 10)) / 1000
            raw.depth = int(fields.get("depth", 0))
            raw.flushes = int(fields.get("flushes", 0))
            raw.final = fields.get("final") == "1"
            continue
        parts = line.split("\t", 2)
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        count, state, stack = int(parts[0]), parts[1], parts[2]
        frames = stack.split(";") if stack else []
        if any(prefix in stack for prefix in HARNESS_PREFIXES):
            frames = flame.without_harness(frames)
        if not frames:
            raw.harness_samples += count
            continue
        leaf = flame.state_frame(STATES[state]) if state in STATES else f"[state {state}]"
        named = tuple(map(names.__getitem__, frames))
        pairs.append(((*named, leaf), count))
    raw.stacks = flame.merge(pairs)
    return raw


class CpuProfiler:
    name = "cpu"
    summary = "where CPU time goes: jit.profile stack samples as a flame graph, top functions, folded stacks"
    signals = ("SIGPROF",)
    options: Mapping[str, Option] = {
        "interval": Option("duration", 0.01, "CPU time between two samples (jit.profile counts whole "
                           "milliseconds)", minimum=0.001),
        "depth": Option("count", 64, "the innermost frames kept of each stack (deeper stacks lose their roots)",
                        minimum=1),
    }

    def image_problem(self, facts: Mapping[str, Any], options: Mapping[str, Any]) -> str:
        return ""  # jit.profile is in every LuaJIT 2.1

    def harness_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"path": FILE, "interval_ms": max(1, round(float(options["interval"]) * 1000)),
                "depth": int(options["depth"])}

    def outputs(self) -> dict[str, str]:
        return {FILE: "jit.profile's stack samples, counted (rewritten whole about every second)"}

    def assess(self, raw: Path) -> dict[str, Any]:
        path = raw / FILE
        if not path.is_file():
            return {"present": False}
        with path.open(encoding="utf-8", errors="replace") as f:
            header = f.readline()
        return {"present": True, "final": "final=1" in header}

    def report(self, run: RunDir) -> Section:
        path = run.raw / FILE
        if not path.is_file():
            return absent(self.name, f"no raw/{FILE}: the harness did not switch cpu on")
        raw = parsed(run)
        state, why = "complete", ""
        if not raw.final:
            state, why = "cut", (f"no final flush: the target was killed; the counts are those of flush "
                                 f"{raw.flushes} (about every second)")
        samples = flame.total_samples(raw.stacks)
        on_s = _time_on(run)
        cpu_s = samples * raw.interval_s
        few = "the target was mostly off CPU" + (f" ({cpu_s:.2f} s sampled in {on_s:.1f} s)" if on_s else "")
        extra = {"interval_ms": round(raw.interval_s * 1000, 3), "depth": raw.depth,
                 "harness_samples": raw.harness_samples, "sampled_s": round(cpu_s, 3)}
        title = f"cpu: {run.profile}, jit.profile every {raw.interval_s * 1000:g} ms of CPU time"
        return flame.stacks_section(self.name, raw.stacks, run, title=title, interval_s=raw.interval_s,
                                    state=state, why=why, extra=extra, few_reason=few)


def parsed(run: RunDir) -> CpuRaw:
    """raw/cpu.txt parsed once per render: cpu's section and jit's join read it (it must exist)."""
    return run.memo(FILE, lambda: parse((run.raw / FILE).read_text(encoding="utf-8", errors="replace")))


def _time_on(run: RunDir) -> float:
    """How long cpu was on (wall seconds, from the harness's timeline); 0 when unknown."""
    for mark in run.switches():
        if mark.label == "cpu" and mark.until is not None:
            return mark.until - mark.t
    return 0.0


PROFILER = CpuProfiler()
