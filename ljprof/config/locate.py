"""Which profiles.yml a task uses: --config, else the nearest one upward from the current folder.

Like git finding `.git`: `ljprof profile` works from any folder of a project,
and everything relative in that profiles.yml (workdir, reports/) is relative to
the folder that holds it, not to where the command was typed.
"""

from __future__ import annotations

from pathlib import Path

from ljprof.errors import ConfigError

CONFIG_NAME = "profiles.yml"


def find_config(given: str | Path | None, start: Path | None = None) -> Path:
    """The configuration file to use: `given` as is (the loader reports a missing one), else the first
    profiles.yml in `start` (default: the current folder) or a folder above it."""
    if given:
        return Path(given)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():  # in the current folder as typed (messages stay short), else absolute
            return Path(CONFIG_NAME) if folder == here and start is None else candidate
    raise ConfigError(f"{here}: no {CONFIG_NAME} here or in any folder above\n"
                      f"  hint: run in your project's folder (or below it), or pass --config PATH")
