"""sysprof's plug-in: options, what the image must have, what the harness gets, the raw files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ljprof.profilers.base import Option
from ljprof.profilers.memprof.format import SYMTAB_MAGIC
from ljprof.profilers.sysprof.section import COUNTERS, FFNAMES, FILE, sysprof_section
from ljprof.profilers.sysprof.stream import EPILOGUE
from ljprof.reporting.model import RunDir, Section

BUFFER = 4096  # sysprof's stream buffer: what a killed target loses at most (a second or so of samples)


class SysprofCapture:
    name = "sysprof"
    signals = ("SIGPROF",)  # jit.profile's too (cpu): the loader refuses both in one profile
    summary = "Tarantool's sysprof: sampled Lua (mode L) or Lua and C (mode C) stacks as flame graphs"
    options: Mapping[str, Option] = {
        "mode": Option("choice", "L", "L: Lua stacks (sysprof's host backtrace is replaced by a no-op: no libgcc "
                       "in the signal handler); C: Lua and host (C) stacks through libgcc's backtrace(); known to "
                       "abort GC-heavy code (a backtrace inside a GC step called from a trace: 6 of 6 runs); "
                       "D: VM-state counters only, no stacks", choices=("L", "C", "D")),
        "interval": Option("duration", 0.01, "time between samples (sysprof counts whole milliseconds)",
                           minimum=0.001),
    }

    def image_problem(self, facts: Mapping[str, Any], options: Mapping[str, Any]) -> str:
        features = facts["features"]
        state = features.get("sysprof") or {}
        if not state.get("present"):
            return "misc.sysprof is absent (upstream LuaJIT has no sysprof; use an image of Tarantool's LuaJIT)"
        if not state.get("works"):
            return f"misc.sysprof.start fails in this image: {state.get('error', 'unknown error')}"
        if not (features.get("sampler") or {}).get("present"):
            return "ljprof_sampler is not in this image (sysprof is started through it): rebuild the image"
        return ""

    def harness_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        interval_ms = max(1, round(float(options["interval"]) * 1000))
        return {"path": FILE, "mode": str(options["mode"]), "interval_ms": interval_ms, "buffer": BUFFER,
                "ffnames": FFNAMES, "counters": COUNTERS}

    def outputs(self) -> dict[str, str]:
        return {FILE: "sysprof stream (symbol table, then samples)", FFNAMES: "the image's fast-function names",
                COUNTERS: "sysprof's samples per VM state"}

    def assess(self, raw: Path) -> dict[str, Any]:
        path = raw / FILE
        if not path.is_file():
            return {"present": False, "counters": (raw / COUNTERS).is_file()}
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(3)
            f.seek(max(0, size - 1))
            last = f.read(1)
        complete = head == SYMTAB_MAGIC and last == bytes([EPILOGUE])
        return {"present": True, "size": size, "complete": complete, "counters": (raw / COUNTERS).is_file()}

    def report(self, run: RunDir) -> Section:
        return sysprof_section(run)
