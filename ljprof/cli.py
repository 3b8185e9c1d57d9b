"""The `ljprof` command: invoke's Program over the task collection of ljprof.tasks.

Installed as a console script (pyproject's [project.scripts]), it runs the same
tasks as `invoke` does in this repository, in any folder of a project that
has a profiles.yml (found upward from the current folder, or each task's --config).
"""

from __future__ import annotations

import sys

from invoke.parser.argument import Argument
from invoke.program import Program

from ljprof import __version__
from ljprof.tasks import SIGPIPE_EXIT, ns, stdout_closed


class LjprofProgram(Program):
    """invoke's Program with its core `--config` said apart from each task's `--config` (profiles.yml)."""

    def core_args(self) -> list[Argument]:
        args = super().core_args()
        for arg in args:
            if "config" in arg.names:
                arg.help = "invoke's runtime configuration file (profiles.yml is each task's --config)"
        return args


program = LjprofProgram(namespace=ns, version=__version__, name="ljprof", binary="ljprof")


def main() -> None:
    try:
        program.run()  # the tasks handle a closed pipe themselves; invoke's own help and lists do not
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_closed()
        sys.exit(SIGPIPE_EXIT)
