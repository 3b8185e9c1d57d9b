"""Parse a memprof stream or file into the model, with the C decoder when built."""

from __future__ import annotations

from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path

from ljprof.errors import ConfigError
from ljprof.profilers.memprof.build import build_profile, locations
from ljprof.profilers.memprof.decoder import BinaryReader, decode_stream
from ljprof.profilers.memprof.model import Location, MemprofProfile


def parse_stream(f: BinaryReader, name: str, *, decoder: str | None = None) -> MemprofProfile:
    """Parse a memprof stream from a binary file object; `name` is used in messages and the model."""
    raw, end = decode_stream(f, name, decoder=decoder)
    return build_profile(raw, end, name)


def open_file(path: str | Path) -> BufferedReader:
    """A memprof file opened for reading; ConfigError, naming it, when it cannot be."""
    try:
        return open(path, "rb")  # the caller closes it (with)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open the memprof file: {exc.strerror or exc}") from exc


def parse_file(path: str | Path, *, decoder: str | None = None) -> MemprofProfile:
    """Parse a memprof file. Raises ConfigError (MemprofFormatError) when it cannot be read as one."""
    with open_file(path) as f:
        return parse_stream(f, str(path), decoder=decoder)


LiveChunks = dict[int, tuple[int, Location]]


@dataclass(frozen=True)
class Decoded:
    """A memprof file decoded once: the model, and the chunks live at its end when they were asked for."""

    profile: MemprofProfile
    live: LiveChunks | None


def decode_file(path: str | Path, *, live: bool, decoder: str | None = None) -> Decoded:
    """The model of a memprof file and, with `live`, the chunks still allocated when it ends:
    address -> (bytes, where it was allocated). Those are the same addresses as
    string.format("%p") of tables, strings, functions and threads (lj_obj_ptr), so a heap
    snapshot's objects can say where they were made. Raises as parse_file."""
    heap: list[tuple[int, int, int]] | None = [] if live else None
    with open_file(path) as f:
        raw, end = decode_stream(f, str(path), decoder=decoder, heap=heap)
    chunks = None
    if heap is not None:
        where = locations(raw)
        chunks = {addr: (size, where[loc]) for addr, size, loc in heap}
    return Decoded(build_profile(raw, end, str(path)), chunks)


def live_chunks(path: str | Path, *, decoder: str | None = None) -> LiveChunks:
    """The chunks still allocated when a memprof file ends (see decode_file)."""
    chunks = decode_file(path, live=True, decoder=decoder).live
    assert chunks is not None
    return chunks
