"""memprof capture: switch Tarantool's memory profiler on in the harness, keep its file.

The stream ends with an epilogue byte (0x80, LJM_EPILOGUE_HEADER in the fork's
lj_memprof.h). A file cut by SIGKILL/SIGTERM stops mid-event and lacks it; so
does a 0-byte file left by os.exit() without closing the state. Reading the
events is ljprof.profilers.memprof's business; here only complete-or-cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ljprof.profilers.base import Option
from ljprof.profilers.memprof.section import memprof_section
from ljprof.reporting.model import RunDir, Section

# A memprof file is the symbol table ('ljs' version ...) followed by the event
# stream ('ljm' version ...), which ends with the epilogue byte.
MAGIC = b"ljs"
EPILOGUE = 0x80


def memprof_file_state(path: Path) -> dict[str, Any]:
    """Whether a memprof file is there, complete (header and end marker) or cut."""
    if not path.is_file():
        return {"present": False, "complete": False, "size": 0, "why": "no file was written"}
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(4)
        f.seek(max(0, size - 1))
        last = f.read(1)
    if head[:3] != MAGIC:
        why = "the file is empty" if size == 0 else "the file does not start with the memprof symbol table header (ljs)"
        return {"present": True, "complete": False, "size": size, "why": why}
    if last != bytes([EPILOGUE]):
        return {"present": True, "complete": False, "size": size,
                "why": "no end marker: the profiler was not stopped (process killed?)"}
    return {"present": True, "complete": True, "size": size, "version": head[3]}


class MemprofCapture:
    name = "memprof"
    summary = "Tarantool's memprof: every allocation, free and realloc with its site, as raw/memprof.bin"
    options: Mapping[str, Option] = {
        "start": Option("choice", "auto", "auto: on for the whole run; manual: the target calls "
                        "ljprof.start('memprof') and ljprof.stop('memprof')", choices=("auto", "manual")),
        "windows": Option("duration", 1.0, "time between markers in the stream, for growth over time "
                          "(false: none; markers come from a jit.profile timer, so not while sysprof runs)",
                          minimum=0.05, can_be_off=True),
    }

    def image_problem(self, facts: Mapping[str, Any], options: Mapping[str, Any]) -> str:
        state = facts["features"]["memprof"]
        if state["works"]:
            return ""
        if not state["present"]:
            return "misc.memprof is absent (upstream LuaJIT has no memprof; use an image of Tarantool's LuaJIT)"
        return f"misc.memprof.start fails in this image: {state.get('error', 'unknown error')}"

    def harness_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"path": "memprof.bin", "start": str(options["start"]), "windows": float(options["windows"])}

    def outputs(self) -> dict[str, str]:
        return {"memprof.bin": "memprof event stream"}

    def assess(self, raw: Path) -> dict[str, Any]:
        return memprof_file_state(raw / "memprof.bin")

    def report(self, run: RunDir) -> Section:
        return memprof_section(run)
