"""Parse a memprof stream or file into the model, with the C decoder when built."""

from __future__ import annotations

from pathlib import Path

from ljprof.errors import ConfigError
from ljprof.profilers.memprof.build import build_profile
from ljprof.profilers.memprof.decoder import BinaryReader, decode_stream
from ljprof.profilers.memprof.model import MemprofProfile


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
