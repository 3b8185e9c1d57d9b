"""sysprof: Tarantool's sampling profiler (the fork only), decoded by ljprof.

    decoded = decode(open("sysprof.bin", "rb").read())     # stream.py: distinct samples, counts
    namer = Namer(decoded.csyms, parse_ffnames(text), run.sources())
    stacks(decoded, namer)   # {("@hot.lua:0 main chunk", ..., "@hot.lua:3 mul", "[Lua function]"): 56, ...}

The stock parser (`luajit -ts`) prints empty stacks for the same files
(bench/README.md); this one names every frame (names.py).
"""

from __future__ import annotations

from ljprof.profilers.sysprof.capture import SysprofCapture
from ljprof.profilers.sysprof.names import Namer, parse_ffnames, stacks
from ljprof.profilers.sysprof.stream import Decoded, Sample, SysprofFormatError, decode

__all__ = ["PROFILER", "Decoded", "Namer", "Sample", "SysprofFormatError", "decode", "parse_ffnames", "stacks"]

PROFILER = SysprofCapture()
