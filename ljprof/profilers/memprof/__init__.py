"""memprof: Tarantool's LuaJIT memory profiler. Its stream, parsed into `model.MemprofProfile`.

    profile = parse_file("memprof.bin")
    profile.heap_summary[0].location.text   # e.g. "@bot.lua:42"

`parse_file` and `parse_stream` use the C decoder when it is built (at
`pip install`), else the pure-Python one; both give the same profile.
$LJPROF_MEMPROF_DECODER=python|c (or `decoder=`) picks one.
"""

from __future__ import annotations

from ljprof.profilers.memprof.capture import MemprofCapture
from ljprof.profilers.memprof.decoder import MemprofFormatError, available_decoders
from ljprof.profilers.memprof.model import MemprofProfile
from ljprof.profilers.memprof.parse import parse_file, parse_stream

__all__ = ["PROFILER", "MemprofFormatError", "MemprofProfile", "available_decoders", "parse_file", "parse_stream"]

PROFILER = MemprofCapture()
