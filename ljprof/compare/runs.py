"""The runs `compare` and `budgets` read: a run directory, `PROFILE@RUN_ID`, or `PROFILE` (its latest runs).

A run is read from its summary.json (rendered by `invoke profile` and
`invoke report`), its manifest and its sources/ (for matching moved lines).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ljprof.errors import ConfigError
from ljprof.reporting.model import RunDir, SourceLines

Json = dict[str, Any]


@dataclass(frozen=True)
class Run:
    dir: RunDir  # its manifest, and its sources/ read when first asked for (matching moved lines)
    summary: Json

    @property
    def path(self) -> Path:
        return self.dir.path

    @property
    def sources(self) -> SourceLines:
        return self.dir.sources()

    @classmethod
    def load(cls, path: Path) -> Run:
        run = RunDir.load(path)  # a clear error when it is not a run directory
        file = path / "summary.json"
        if not file.is_file():
            raise ConfigError(f"{path}: no summary.json (the run's reports were not rendered)\n"
                              f"  hint: invoke report --run {path}")
        try:
            summary = dict(json.loads(file.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{file}: not valid JSON ({exc})") from None
        return cls(run, summary)

    @property
    def profile(self) -> str:
        return str(self.summary.get("profile") or "?")

    @property
    def run_id(self) -> str:
        return str(self.summary.get("run_id") or self.path.name)

    def identity(self) -> Json:
        image = self.summary.get("image") or {}
        return {"dir": str(self.path), "profile": self.profile, "run_id": self.run_id,
                "image": image.get("tag"), "image_id": image.get("id"),
                "luajit_commit": image.get("luajit_commit"), "luajit_version": image.get("luajit_version")}


def runs_of(reports: Path, profile: str) -> list[Path]:
    """A profile's run directories under `reports`, oldest first (run ids start with their UTC time)."""
    folder = reports / profile
    if not folder.is_dir():
        return []
    runs = [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink() and (p / "manifest.json").is_file()]
    return sorted(runs, key=lambda p: p.name)


def resolve(spec: str, reports: Path, *, before: Path | None = None) -> Path:
    """A run named as a directory, `PROFILE@RUN_ID`, or `PROFILE`: its latest run, or with `before`
    its latest run older than that one (the base of `--head PROFILE`)."""
    path = Path(spec)
    if (path / "manifest.json").is_file() or ("/" in spec and path.is_dir()):
        return path.resolve()  # a run directory (RunDir.load says so when it is not one)
    if "@" in spec:
        profile, run_id = spec.split("@", 1)
        found = reports / profile / run_id
        if not (found / "manifest.json").is_file():
            known = [p.name for p in runs_of(reports, profile)][-5:]
            raise ConfigError(f"{spec}: there is no run {run_id} of profile '{profile}' under {reports}\n"
                              f"  hint: recent runs: {', '.join(known) or 'none'}")
        return found.resolve()
    runs = [p.resolve() for p in runs_of(reports, spec)]
    if before is not None:
        runs = [p for p in runs if p.name < before.name]
    if not runs:
        what = "run before the head" if before is not None else "run"
        raise ConfigError(f"{spec}: not a run directory, and profile '{spec}' has no {what} under {reports}\n"
                          f"  hint: name a run directory, PROFILE@RUN_ID, or a profile with two runs "
                          f"(invoke profile --name {spec})")
    return runs[-1]


def resolve_pair(base: str | None, head: str, reports: Path) -> tuple[Path, Path]:
    """(base, head) directories; without `base`, or with the head's own profile as `base`, the
    head profile's run before the head."""
    head_dir = resolve(head, reports)
    if base is None:
        profile = RunDir.load(head_dir).profile
        return resolve(profile, reports, before=head_dir), head_dir
    named_profile = not (Path(base) / "manifest.json").is_file() and "@" not in base
    if named_profile and (reports / base / head_dir.name).resolve() == head_dir:
        return resolve(base, reports, before=head_dir), head_dir
    return resolve(base, reports), head_dir
