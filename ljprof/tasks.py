"""ljprof's Invoke tasks, one collection for the `ljprof` command and this repository's tasks.py.

Each task maps its options onto ljprof.commands and turns LjprofError into a
message and an exit code. profiles.yml is `--config`, else the nearest one
upward from the current folder (ljprof.config.locate); reports/ go beside it.

Overrides for machines that cannot reach GitHub or Docker Hub are task options
here and LJPROF_* environment variables (options win):
  --base-image     LJPROF_BASE_IMAGE     base image instead of the recipe's
  --luajit-git     LJPROF_LUAJIT_GIT     LuaJIT git URL (a mirror)
  --luajit-ref     LJPROF_LUAJIT_REF     commit, tag or branch to build
  --luajit-source  LJPROF_LUAJIT_SOURCE  a local LuaJIT source tree to copy in
  --network        LJPROF_BUILD_NETWORK  the build's network mode (e.g. host)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from ljprof import commands
from ljprof.config.loader import load_config
from ljprof.config.locate import find_config
from ljprof.errors import LjprofError

CONFIG_HELP = "the configuration file (default: the nearest profiles.yml, from here upward)"

OVERRIDE_HELP = {
    "base_image": "base image instead of the recipe's (env LJPROF_BASE_IMAGE)",
    "luajit_git": "LuaJIT git URL, e.g. a mirror (env LJPROF_LUAJIT_GIT)",
    "luajit_ref": "LuaJIT commit, tag or branch (env LJPROF_LUAJIT_REF)",
    "luajit_source": "local LuaJIT source tree to build instead of cloning (env LJPROF_LUAJIT_SOURCE)",
    "network": "network mode of the image build: default, host, none (env LJPROF_BUILD_NETWORK)",
}


SIGPIPE_EXIT = 141  # what a shell reports for a command that a closed pipe stopped (128 + SIGPIPE)


@contextmanager
def _errors() -> Iterator[None]:
    """The one place where ljprof's errors become messages and exit codes.

    A reader that stops early (`ljprof list | head -1`) closes the pipe: that
    ends the task quietly, as it ends `cat` or `seq`, with no traceback.
    """
    try:
        yield
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
    except LjprofError as exc:
        raise Exit(f"ljprof: error: {exc}", code=exc.exit_code) from None
    except BrokenPipeError:
        stdout_closed()
        raise Exit(code=SIGPIPE_EXIT) from None


def stdout_closed() -> None:
    """After a BrokenPipeError (`... | head -1`): the rest of our output has nowhere to go, so send it to
    /dev/null, and the interpreter's last flush is quiet too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _options(base_image: str | None, luajit_git: str | None, luajit_ref: str | None,
             luajit_source: str | None, network: str | None) -> dict[str, str | None]:
    return {"base_image": base_image, "luajit_git": luajit_git, "luajit_ref": luajit_ref,
            "luajit_source": luajit_source, "build_network": network}


def _run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with _errors():
        return fn(*args, **kwargs)


def _config(config: str | None) -> Path:
    with _errors():
        return find_config(config)


def _reports(reports: str | None, config: str | None) -> Path:
    """--reports, else reports/ beside the profiles.yml in use."""
    return Path(reports) if reports else _config(config).resolve().parent / "reports"


@task(help={"config": CONFIG_HELP})
def check(c: Context, config: str | None = None) -> None:
    """Validate profiles.yml and list its image recipes; starts no Docker."""
    _run(commands.check, _config(config), sys.stdout, os.environ)


@task(help={"image": "the recipe under images: in profiles.yml (env LJPROF_IMAGE; default: default)",
            "rebuild": "build even when an up-to-date image exists",
            "config": CONFIG_HELP, **OVERRIDE_HELP})
def build(c: Context, image: str | None = None, rebuild: bool = False, config: str | None = None,
          base_image: str | None = None, luajit_git: str | None = None, luajit_ref: str | None = None,
          luajit_source: str | None = None, network: str | None = None) -> None:
    """Build the LuaJIT image of a recipe, or find it up to date by its content hash."""
    _run(commands.build, _config(config), image,
         _options(base_image, luajit_git, luajit_ref, luajit_source, network), os.environ, sys.stdout,
         rebuild=rebuild)


@task(help={"name": "the profile under profiles: in profiles.yml",
            "image": "run on this image recipe instead of the profile's (env LJPROF_IMAGE)",
            "reports": "where run directories go (default: reports/ beside profiles.yml)",
            "base": "the baseline run for relative budgets (regression): a run directory, PROFILE@RUN_ID or "
                    "PROFILE (its latest run)",
            "config": CONFIG_HELP, **OVERRIDE_HELP})
def profile(c: Context, name: str | None = None, image: str | None = None, reports: str | None = None,
            config: str | None = None, base: str | None = None, base_image: str | None = None,
            luajit_git: str | None = None, luajit_ref: str | None = None, luajit_source: str | None = None,
            network: str | None = None) -> None:
    """Run a profile's Lua target in a container under its profilers; results in reports/<profile>/<run-id>/.

    Then its budgets are checked: exit 7 when one is broken."""
    _run(commands.profile, _config(config), name, image,
         _options(base_image, luajit_git, luajit_ref, luajit_source, network), os.environ, sys.stdout,
         reports=reports, base=base)


@task(help={"run": "a run directory (reports/<profile>/<run-id>)",
            "name": "a profile: render its latest run",
            "reports": "where run directories are (default: reports/ beside profiles.yml)",
            "config": CONFIG_HELP})
def report(c: Context, run: str | None = None, name: str | None = None, reports: str | None = None,
           config: str | None = None) -> None:
    """Render a run's reports again from its run directory alone (no Docker needed)."""
    folder = None if run else _reports(reports, config)  # --run needs no profiles.yml
    known = () if run else _profile_names(config)
    _run(lambda: commands.report(commands.find_run(folder or ".", run, name, known), sys.stdout))


def _profile_names(config: str | None) -> tuple[str, ...]:
    """The profiles of the profiles.yml in use, for "did you mean"; none when it is missing or broken."""
    try:
        return tuple(load_config(find_config(config)).profiles)
    except LjprofError:
        return ()


@task(help={"folder": "a folder of run directories (default: reports/ beside profiles.yml), "
                      "or a merged GitHub Actions artifact",
            "config": CONFIG_HELP})
def overview(c: Context, folder: str | None = None, config: str | None = None) -> None:
    """Write FOLDER/index.html linking every run directory below it (no Docker needed)."""
    _run(commands.overview, folder or _reports(None, config), sys.stdout)


@task(help={"file": "a memprof file recorded anywhere (e.g. by misc.memprof.start)",
            "leak_only": "only the HEAP SUMMARY (as luajit-parse-memprof --leak-only)",
            "human_readable": "sizes as KiB/MiB (as luajit-parse-memprof --human-readable)",
            "json": "also write the JSON report to this file",
            "html": "also write the HTML report to this file",
            "sources": "folder of the Lua sources, for source lines in the HTML (default: the file's folder)"})
def memprof(c: Context, file: str, leak_only: bool = False, human_readable: bool = False, json: str | None = None,
            html: str | None = None, sources: str | None = None) -> None:
    """Print the text report of any memprof file (exit 1 when the file was cut: the report covers what was read)."""
    status = _run(commands.memprof_file, file, sys.stdout, leak_only=leak_only, human_readable=human_readable,
                  json_out=json, html_out=html, sources=sources)
    if status:
        raise Exit(code=status)


@task(name="list", help={"json": "print a JSON list of names (for a GitHub Actions matrix)",
                         "config": CONFIG_HELP})
def list_(c: Context, json: bool = False, config: str | None = None) -> None:
    """List the profiles in profiles.yml."""
    _run(commands.list_profiles, _config(config), sys.stdout, as_json=json)


@task(help={"json": "print JSON instead of text"})
def images(c: Context, json: bool = False) -> None:
    """List ljprof's images: LuaJIT version and commit, profilers, LuaRocks and rocks."""
    _run(commands.images, sys.stdout, as_json=json)


@task(help={"out": "an empty or new folder to write the build context into",
            "image": "the recipe under images: in profiles.yml (default: default)",
            "config": CONFIG_HELP, **OVERRIDE_HELP})
def context(c: Context, out: str, image: str = "default", config: str | None = None,
            base_image: str | None = None, luajit_git: str | None = None, luajit_ref: str | None = None,
            luajit_source: str | None = None, network: str | None = None) -> None:
    """Write a recipe's build context, tag and build arguments (for buildx in GitHub Actions)."""
    _run(commands.context, _config(config), image, out,
         _options(base_image, luajit_git, luajit_ref, luajit_source, network), os.environ, sys.stdout)


@task(name="base-image", help={"tag": "the image to create (default: local/debian:bookworm)",
                               "suite": "the Debian suite (default: bookworm)",
                               "mirror": "a Debian mirror URL (default: debootstrap's own)"})
def base_image(c: Context, tag: str = "local/debian:bookworm", suite: str = "bookworm",
               mirror: str | None = None) -> None:
    """Make a Debian base image with debootstrap, for machines that cannot pull from Docker Hub."""
    _run(commands.base_image, tag, suite, mirror, sys.stdout)


def _runs_folder(reports: str | None, config: str | None) -> Path:
    """--reports, else reports/ beside profiles.yml, else ./reports (runs named by directory need neither)."""
    try:
        return _reports(reports, config)
    except Exit:
        return Path("reports")


RUN_HELP = "a run directory, PROFILE@RUN_ID, or PROFILE (its latest run)"


@task(help={"base": f"the run to compare against: {RUN_HELP}; PROFILE (or nothing) is the head's previous run "
                    "of that profile",
            "head": f"the run judged: {RUN_HELP}",
            "out": "write compare.html, .json and .md here (default: into the head run's directory)",
            "reports": "where run directories are (default: reports/ beside profiles.yml)",
            "config": CONFIG_HELP})
def compare(c: Context, head: str, base: str | None = None, out: str | None = None, reports: str | None = None,
            config: str | None = None) -> None:
    """Compare two runs (sites, heap, CPU frames, aborts, snapshots); writes compare.html, .json, .md."""
    _run(commands.compare, base, head, _runs_folder(reports, config), sys.stdout, out_dir=out)


@task(help={"run": f"the run to check: {RUN_HELP}",
            "base": f"the baseline run for relative budgets (regression): {RUN_HELP}",
            "reports": "where run directories are (default: reports/ beside profiles.yml)",
            "config": CONFIG_HELP + "; its profile's budgets (else those the run recorded)"})
def budgets(c: Context, run: str, base: str | None = None, reports: str | None = None,
            config: str | None = None) -> None:
    """Check a finished run's budgets (exit 7 when one is broken); verdicts into its summary.json/.md."""
    try:
        config_path: Path = find_config(config)
    except LjprofError:
        config_path = Path(config or "profiles.yml")  # none: the budgets the run recorded
    _run(commands.budgets, run, base, config_path, _runs_folder(reports, config), sys.stdout)


@task(help={"images": "also remove ljprof's images"})
def clean(c: Context, images: bool = False) -> None:
    """Remove containers (and images, with --images) that ljprof created."""
    _run(commands.clean, sys.stdout, images=images)


# The collection: `ljprof` (ljprof.cli) runs it, and so does `invoke` through tasks.py.
ns = Collection(check, build, profile, report, overview, compare, budgets, memprof, list_, images, context, base_image,
                clean)
