"""What a profiler hands the run's reports, and what the run directory offers it.

A profiler's `report(run)` reads its raw files from `run.raw` and returns a
`Section`: its state, a headline, the files it renders (its own pages), the
time series it adds to the run's timeline, what it adds to summary.json and
summary.md, and its part of index.html. The run-level reporters (index.html,
summary.json, summary.md, the console) put sections together without knowing
any profiler by name.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

from ljprof.container import HARNESS_DIR, PROFILERS_MOUNT, TARGET_DIR
from ljprof.errors import ConfigError

Json = dict[str, Any]
T = TypeVar("T")

# A profiler's state in a run, as summary.json reports it.
STATES = ("complete", "cut", "empty", "crashed", "absent")

HARNESS_PREFIXES = (HARNESS_DIR + "/", PROFILERS_MOUNT + "/")  # all of ljprof's Lua code in the container
TARGET_PREFIX = TARGET_DIR + "/"  # where the target's folder is mounted
# With ljprof's jit profiler on, its recorder runs in the target's VM: these modules of the image
# (jit.v, jit.dump with jit.bc and the disassembler, loom) are then ljprof's, as its harness is.
JIT_RECORDER_FILES = tuple(f"/jit/{m}.lua" for m in ("v", "dump", "bc", "loom", "dis_x64", "dis_x86"))


def is_jit_recorder(file: str | None) -> bool:
    """A chunk name (`@/usr/share/lua/5.1/jit/loom.lua`) of one of JIT_RECORDER_FILES."""
    return file is not None and file.endswith(JIT_RECORDER_FILES)


@dataclass(frozen=True)
class SourceLines:
    """The Lua files kept in a run directory's sources/ (relative name -> lines).

    The target's files are kept under their path relative to its folder; Lua
    files from inside the image under their absolute path without the leading
    slash (sources/usr/share/lua/5.1/socket/http.lua).
    """

    files: Mapping[str, Sequence[str]]
    cwd: str = "."  # where the target ran, relative to its folder: chunk names are relative to it
    _names: dict[str, list[str]] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_folder(cls, folder: Path, cwd: str = ".") -> SourceLines:
        files: dict[str, list[str]] = {}
        if folder.is_dir():
            for path in sorted(folder.rglob("*.lua")):
                files[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8",
                                                                            errors="replace").splitlines()
        return cls(files, cwd)

    def line(self, file: str | None, number: int | None) -> str | None:
        """The source line (stripped) of a chunk name's file, or None when it was not kept."""
        if file is None or number is None:
            return None
        if file.startswith("@"):
            file = file[1:]
        if file.startswith(TARGET_PREFIX):
            file = file[len(TARGET_PREFIX):]
        elif file.startswith("/"):
            file = file[1:]
        else:  # relative to where the target ran
            file = posixpath.normpath(posixpath.join(self.cwd, file))
        return self._line_in(file, number)

    def _line_in(self, path: str, number: int) -> str | None:
        lines = self.files.get(path)
        if lines is None or not 0 < number <= len(lines):
            return None
        return lines[number - 1].strip()

    def line_of_short_name(self, file: str | None, number: int | None) -> str | None:
        """As `line`, for a chunk named by its file's name alone, as LuaJIT's jit.v and jit.dump name
        them (`@linearize.lua` for src/luacheck/stages/linearize.lua): the one kept file of that name;
        None when there are several (init.lua in every folder) or none."""
        found = self.line(file, number)
        if found is not None or file is None or number is None or "/" in file:
            return found
        paths = self._by_name().get(file.removeprefix("@"), [])
        return self._line_in(paths[0], number) if len(paths) == 1 else None

    def has_file_named(self, name: str) -> bool:
        """Whether a kept file has this name (`run.lua`), in any folder."""
        return name in self._by_name()

    def _by_name(self) -> dict[str, list[str]]:
        """File name -> the paths in `files` with that name."""
        if self._names is None:
            names: dict[str, list[str]] = {}
            for path in self.files:
                names.setdefault(posixpath.basename(path), []).append(path)
            object.__setattr__(self, "_names", names)
        assert self._names is not None
        return self._names


@dataclass(frozen=True)
class Mark:
    """A point or an interval on the run's time axis (seconds on the harness's clock)."""

    t: float
    label: str
    until: float | None = None  # an interval (a profiler switched on) when set


@dataclass(frozen=True)
class RunDir:
    """A run directory as the reporters see it: manifest.json, raw/, sources/."""

    path: Path
    manifest: Json
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def memo(self, key: str, make: Callable[[], T]) -> T:
        """`make()`, once per RunDir: what two profilers' reports read from one raw file (memprof's
        decode, for its section and snapshot's join). A `make` that raises is not remembered."""
        if key not in self._memo:
            self._memo[key] = make()
        value: T = self._memo[key]
        return value

    @classmethod
    def load(cls, path: Path) -> RunDir:
        file = path / "manifest.json"
        if not path.is_dir():
            raise ConfigError(f"{path}: no such run directory\n"
                              "  hint: name a folder reports/<profile>/<run-id>, or reports/<profile>/latest")
        try:
            # the run's own folder, not one through reports/<profile>/latest: reports record their raw files'
            # paths, and `latest` moves on with the next run
            return cls(path.resolve(), dict(json.loads(file.read_text(encoding="utf-8"))))
        except FileNotFoundError:
            raise ConfigError(f"{path}: not a run directory (no manifest.json)\n"
                              "  hint: name a folder reports/<profile>/<run-id>, or reports/<profile>/latest") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{file}: not valid JSON ({exc})") from None

    @property
    def raw(self) -> Path:
        return self.path / "raw"

    @property
    def profile(self) -> str:
        return str(self.manifest.get("profile", "?"))

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id", self.path.name))

    def sources(self) -> SourceLines:
        """The kept sources, read once per RunDir: memprof, jit, cpu and sysprof all show source lines."""
        return self.memo("sources", lambda: SourceLines.from_folder(self.path / "sources",
                                                                    str(self.manifest.get("cwd", "."))))

    def profiler_options(self, name: str) -> Json:
        """A profiler's options as the run's manifest recorded them ({} when it has none)."""
        profilers = (self.manifest.get("config") or {}).get("profilers") or {}
        return dict(profilers.get(name) or {})

    def events(self) -> list[Json]:
        """The harness's timeline: begin, start/stop of profilers, marks, end (t on the harness clock)."""
        return list(self.manifest.get("timeline", []))

    def marks(self) -> list[Mark]:
        """`ljprof.mark()` calls, in time order."""
        return [Mark(float(e["t"]), str(e["detail"])) for e in self.events() if e.get("event") == "mark"]

    def switches(self) -> list[Mark]:
        """Intervals when a profiler that the harness switches (memprof, ...) was on."""
        opened: dict[str, float] = {}
        out: list[Mark] = []
        end_t = max((float(e["t"]) for e in self.events()), default=0.0)
        for e in self.events():
            name = str(e.get("detail", "")).split(":")[0]
            if e.get("event") == "start" and name != "sampler":
                opened[name] = float(e["t"])
            elif e.get("event") == "stop" and name in opened:
                out.append(Mark(opened.pop(name), name, float(e["t"])))
        out.extend(Mark(t, name, end_t) for name, t in opened.items())
        return sorted(out, key=lambda m: (m.t, m.label))


@dataclass(frozen=True)
class Page:
    """A file a profiler writes into the run directory; `render` only formats."""

    name: str  # file name in the run directory, e.g. "memprof.html"
    what: str  # for the manifest and the index's file list
    render: Callable[[TextIO], None]


@dataclass(frozen=True)
class Series:
    """A time series for the run's timeline (t in seconds on the harness's clock)."""

    panel: str  # which plot it goes on: "memory" | "rates" | "levels"
    label: str  # legend, e.g. "Lua heap"
    unit: str  # "KB", "/s", ""
    t: tuple[float, ...]
    v: tuple[float, ...]


@dataclass(frozen=True)
class Section:
    """One profiler's part of a run's reports."""

    name: str
    state: str  # one of STATES
    why: str = ""  # the reason, when the state is not complete
    headline: str = ""  # one line for the console, index.html and summary.md
    console: tuple[str, ...] = ()  # more lines for the console
    html: str = ""  # its part of index.html: an HTML fragment, already escaped
    markdown: str = ""  # its part of summary.md
    summary: Json = field(default_factory=dict)  # summary.json's profilers.<name> (state is added)
    summary_top: Json = field(default_factory=dict)  # top-level keys it adds to summary.json
    pages: tuple[Page, ...] = ()
    series: tuple[Series, ...] = ()
    link: str = ""  # its own page, when it has one


def absent(name: str, why: str) -> Section:
    return Section(name, "absent", why=why, headline=f"{name}: no data ({why})")
