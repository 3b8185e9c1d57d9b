"""One exception family; each kind carries the exit code `tasks.py` uses.

Library code raises these and never exits; only `tasks.py` turns them into a
message and an exit status (see `ljprof.cli.exit_for`).
"""

from __future__ import annotations

from pathlib import Path


class LjprofError(Exception):
    """Base of every error ljprof reports to a person."""

    exit_code = 1


class ConfigError(LjprofError):
    """profiles.yml, an override (option or LJPROF_* variable) or a path is wrong."""

    exit_code = 2


class DockerUnavailable(LjprofError):
    """The Docker engine cannot be reached, or a needed tool is missing."""

    exit_code = 3


class BuildFailed(LjprofError):
    """An image build failed; the message names the step and shows its log's tail."""

    exit_code = 4


class ToolFailed(LjprofError):
    """An external tool ljprof runs on the host (debootstrap, git) failed."""

    exit_code = 5


class _RunKept(LjprofError):
    """An error after which the run directory and its reports are kept (`run_dir`)."""

    def __init__(self, message: str, run_dir: Path) -> None:
        super().__init__(message)
        self.run_dir = run_dir


class TargetFailed(_RunKept):
    """The profiled target failed: it raised, exited with a code the profile does not expect,
    crashed, or was killed by the OOM killer or the timeout. Its run directory and reports are kept."""

    exit_code = 6


class BudgetBroken(_RunKept):
    """The run ended well, but a budget of its profile (profiles.yml `budgets:`) is broken: the figure
    is over its limit, or worse than the baseline run by more than its regression. Reports are kept."""

    exit_code = 7
