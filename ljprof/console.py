"""What a person sees while ljprof works: build progress and a running target, on a terminal or a CI log.

On a terminal the current step stays on screen with its latest output line
rewritten in place; elsewhere (CI logs) each step is printed once with the
time the previous one took, so logs stay short and greppable. A running
target gets one status line (elapsed of duration, Lua heap, samples),
rewritten in place on a terminal and printed every RunStatus.every seconds
elsewhere.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TextIO

from ljprof.docker_engine import BuildListener, BuildStep
from ljprof.profilers.gc.report import FILE as GC_FILE
from ljprof.reporting.units import format_kb


class BuildDisplay(BuildListener):
    def __init__(self, out: TextIO, interactive: bool | None = None) -> None:
        self.out = out
        self.interactive = out.isatty() if interactive is None else interactive
        self.started = time.monotonic()
        self._status_shown = False

    def step(self, step: BuildStep) -> None:
        self._clear_status()
        # Only the steps that do work (the base image, RUN): ARG, COPY and LABEL take no time, and the
        # full log has every step.
        if step.instruction.startswith(("FROM", "RUN")):
            self.out.write(f"  [{step.index:>2}/{step.total}] {_shorten(step.instruction, 100)}"
                           f"  (+{time.monotonic() - self.started:.0f}s)\n")
            self.out.flush()

    def line(self, text: str) -> None:
        if not self.interactive:
            return
        width = max(20, shutil.get_terminal_size((100, 20)).columns - 8)
        self.out.write(f"\r\x1b[2K        {_shorten(text, width)}")
        self.out.flush()
        self._status_shown = True

    def finish(self) -> None:
        self._clear_status()

    def _clear_status(self) -> None:
        if self._status_shown:
            self.out.write("\r\x1b[2K")
            self._status_shown = False


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


class RunStatus:
    """The live status of a running target, from what the profilers write to raw/ as it runs.

    The Lua heap and the sample count come from raw/gc.csv (`t,kb,...`, one
    flushed line per sample), read incrementally: only the bytes added since
    the last look.
    """

    GC_CSV = GC_FILE

    def __init__(self, out: TextIO, duration: float | None, timeout: float, interactive: bool | None = None,
                 every: float = 10.0) -> None:
        self.out = out
        self.duration = duration
        self.timeout = timeout
        self.interactive = out.isatty() if interactive is None else interactive
        self.every = 0.5 if self.interactive else every  # seconds between two updates
        self._next = 0.0 if self.interactive else every
        self._offset = 0
        self._pending = b""
        self.samples = 0
        self.heap_kb: float | None = None
        self._shown = False

    def __call__(self, raw: Path, elapsed: float) -> None:
        if elapsed < self._next:
            return
        self._next = elapsed + self.every
        self.read(raw / self.GC_CSV)
        line = self.line(elapsed)
        if self.interactive:
            self.out.write(f"\r\x1b[2K{line}")
            self._shown = True
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def read(self, path: Path) -> None:
        """Take the samples added to gc.csv since the last call."""
        try:
            with path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return
        self._offset += len(data)
        *lines, self._pending = (self._pending + data).split(b"\n")
        for line in lines:
            fields = line.split(b",")
            if len(fields) < 2 or fields[0] == b"t":
                continue
            try:
                self.heap_kb = float(fields[1])
            except ValueError:
                continue
            self.samples += 1

    def line(self, elapsed: float) -> str:
        until = f" of {self.duration:g} s" if self.duration is not None else f" (timeout {self.timeout:g} s)"
        parts = [f"  running {elapsed:.0f} s{until}"]
        if self.heap_kb is not None:
            parts.append(f"Lua heap {format_kb(self.heap_kb)}")
            parts.append(f"{self.samples:,} sample{'' if self.samples == 1 else 's'}")
        return ", ".join(parts)

    def finish(self) -> None:
        if self._shown:
            self.out.write("\r\x1b[2K")
            self.out.flush()
            self._shown = False
