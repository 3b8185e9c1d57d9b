"""memprof: Tarantool's LuaJIT memory profiler. Its stream, parsed into `model.MemprofProfile`.

    profile = parse_file("memprof.bin")
    profile.heap_summary[0].location.text   # e.g. "@bot.lua:42"

`parse_file` and `parse_stream` use the C decoder when it is built (at
`pip install`), else the pure-Python one; both give the same profile.
$LJPROF_MEMPROF_DECODER=python|c (or `decoder=`) picks one.
"""

from __future__ import annotations

from pathlib import Path

from ljprof.errors import ConfigError
from ljprof.profilers.memprof.build import build_profile
from ljprof.profilers.memprof.capture import MemprofCapture
from ljprof.profilers.memprof.decoder import (
    BinaryReader,
    MemprofFormatError,
    available_decoders,
    decode_stream,
)
from ljprof.profilers.memprof.model import MemprofProfile

__all__ = ["PROFILER", "MemprofFormatError", "MemprofProfile", "available_decoders", "parse_file", "parse_stream"]


def parse_stream(f: BinaryReader, name: str, *, decoder: str | None = None) -> MemprofProfile:
    """Parse a memprof stream from a binary file object; `name` is used in messages and the model."""
    raw, end = decode_stream(f, name, decoder=decoder)
    return build_profile(raw, end, name)


def parse_file(path: str | Path, *, decoder: str | None = None) -> MemprofProfile:
    """Parse a memprof file. Raises ConfigError (MemprofFormatError) when it cannot be read as one."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below; open errors become ConfigError
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open the memprof file: {exc.strerror or exc}") from exc
    with f:
        return parse_stream(f, str(path), decoder=decoder)


PROFILER = MemprofCapture()
