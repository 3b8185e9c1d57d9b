"""What a person sees while ljprof works: build progress on a terminal or a CI log.

On a terminal the current step stays on screen with its latest output line
rewritten in place; elsewhere (CI logs) each step is printed once with the
time the previous one took, so logs stay short and greppable.
"""

from __future__ import annotations

import shutil
import time
from typing import TextIO

from ljprof.docker_engine import BuildListener, BuildStep


class BuildDisplay(BuildListener):
    def __init__(self, out: TextIO, interactive: bool | None = None) -> None:
        self.out = out
        self.interactive = out.isatty() if interactive is None else interactive
        self.started = time.monotonic()
        self.step_started = self.started
        self._status_shown = False

    def step(self, step: BuildStep) -> None:
        now = time.monotonic()
        self._clear_status()
        self.out.write(f"  [{step.index:>2}/{step.total}] {_shorten(step.instruction, 100)}"
                       f"  (+{now - self.started:.0f}s)\n")
        self.out.flush()
        self.step_started = now

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
