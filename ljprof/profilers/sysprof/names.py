"""Naming sysprof's frames and putting each sample's frames in one root-first stack.

Frame names:
- a Lua function: `chunk:line name`, line being where it is defined, name
  read from that source line when the run kept the file (`@hot.lua:7 add`);
  the main chunk is `chunk:0 main chunk`; otherwise `chunk:line`
- a trace: `trace N`, under its start function's frame
- a fast function: `[builtin#N] name`, the name from the image's own
  jit/vmdef.lua (`[builtin#122] os.clock`: ffids differ between builds, so
  the harness records the table), else `ffunc#N`
- a C function or host frame: its symbol (nearest at or below the address,
  in the same library), else `lib.so+0xoff` (memprof's clibs.py)
- every stack ends in its VM state's pseudo-frame (flame.py's VM_STATES):
  `[Lua function]`, `[fast function]`, `[C function]`, `[interpreted]`,
  `[GC]`, `[trace exit]`, `[recording]`, `[optimizing]`, `[assembling]`,
  `[trace]`

Merging (mode C): the host stack runs from `_start` to the C function that
entered Lua; the Lua stack's bottom frame is that C function (`pmain` under
luajit). The host frames up to it come first, then the Lua stack root-first.
(Tarantool's parser splices the two at the wrong element and prints empty
stacks: see bench/README.md.)
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Mapping

from ljprof.profilers.memprof.clibs import Libraries
from ljprof.profilers.sysprof.stream import GUEST_STATES, TRACE, Decoded, Frame, Sample
from ljprof.reporting.flame import state_frame
from ljprof.reporting.model import SourceLines

# sysprof's vmstates (stream.VMSTATES order) as flame.py's state pseudo-frames
STATE_FRAMES = tuple(state_frame(s) for s in ("interpreted", "Lua function", "fast function", "C function", "GC",
                                              "trace exit", "recording", "optimizing", "assembling", "trace"))
_FUNCTION = re.compile(r"(?:local\s+)?function\s+([\w.:]+)\s*\(")
_ASSIGNED = re.compile(r"(?:local\s+)?([\w.\[\]\"']+)\s*=\s*function\s*\(")


def function_name(source_line: str | None) -> str | None:
    """The name a Lua function gets where it is defined, from its first source line."""
    if not source_line:
        return None
    found = _FUNCTION.search(source_line) or _ASSIGNED.search(source_line)
    return found.group(1) if found else None


def parse_ffnames(text: str) -> dict[int, str]:
    """raw/sysprof.ffnames ("<ffid> <name>" per line, written by the harness from jit.vmdef)."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        ffid, _, name = line.strip().partition(" ")
        if ffid.isdigit() and name:
            out[int(ffid)] = name
    return out


class Namer:
    """Names frames with the stream's C symbols, the image's fast-function names and the kept sources."""

    def __init__(self, csyms: list[tuple[int, str]], ffnames: Mapping[int, str],
                 sources: SourceLines | None = None) -> None:
        last: dict[int, str] = {}
        multi: set[int] = set()
        for addr, name in csyms:
            if addr in last:
                multi.add(addr)
            last[addr] = name
        self.addrs = sorted(last)
        self.names = [last[a] for a in self.addrs]
        self.libraries = Libraries([(a, last[a], a in multi) for a in self.addrs])
        self.ffnames = ffnames
        self.sources = sources
        self._cache: dict[Frame, str] = {}

    def c(self, addr: int) -> str:
        """A C function or a return address: its symbol, else its library and offset."""
        i = bisect.bisect_right(self.addrs, addr) - 1
        lib = self.libraries.find(addr)
        if i >= 0 and (lib is None or self.addrs[i] > lib.base):
            return self.names[i]
        if lib is not None:
            return lib.offset_label(addr)
        return f"{addr:#x}"

    def lua(self, chunk: str, line: int) -> str:
        if line == 0:
            return f"{chunk}:0 main chunk"
        name = function_name(self.sources.line(chunk, line)) if self.sources else None
        return f"{chunk}:{line} {name}" if name else f"{chunk}:{line}"

    def frame(self, frame: Frame) -> str:
        name = self._cache.get(frame)
        if name is None:
            kind = frame[0]
            if kind == "L":
                name = self.lua(str(frame[1]), int(str(frame[2])))
            elif kind == "L?":
                name = f"proto@{int(str(frame[1])):#x}:{frame[2]}"
            elif kind == "F":
                ffid = int(str(frame[1]))
                known = self.ffnames.get(ffid)
                name = f"[builtin#{ffid}] {known}" if known else f"ffunc#{ffid}"
            else:  # "C"
                name = self.c(int(str(frame[1])))
            self._cache[frame] = name
        return name

    def stack(self, sample: Sample) -> tuple[str, ...]:
        """A sample's frames, root first."""
        state = STATE_FRAMES[sample.vmstate]
        if sample.vmstate == TRACE:
            _, traceno, chunk, line = sample.lua[0]
            return (self.lua(str(chunk), int(str(line))), f"trace {traceno}", state)
        host = [self.c(a) for a in reversed(sample.host)]
        if sample.vmstate not in GUEST_STATES:
            return (*host, state)
        lua = [self.frame(f) for f in reversed(sample.lua)]
        if lua and sample.lua[-1][0] == "C" and lua[0] in host:
            host = host[:host.index(lua[0])]
        return (*host, *lua, state)


def stacks(decoded: Decoded, namer: Namer) -> Counter[tuple[str, ...]]:
    """Sample counts by root-first stack of frame names."""
    out: Counter[tuple[str, ...]] = Counter()
    for sample, n in decoded.samples.items():
        out[namer.stack(sample)] += n
    return out
