"""Where ljprof puts things inside a run's container: the runner mounts them here, and the reports
recognise these paths in chunk names (the target's files, ljprof's own Lua code)."""

from __future__ import annotations

TARGET_DIR = "/ljprof/target"  # the profile's workdir, read-only
HARNESS_DIR = "/ljprof/harness"  # ljprof/harness, read-only: run.lua
PROFILERS_MOUNT = "/ljprof/profilers"  # ljprof/profilers, read-only: each profiler's harness.lua
CONFIG_DIR = "/ljprof/config"  # the run's options.lua
OUT_DIR = "/ljprof/out"  # the run directory's raw/, bind-mounted read-write
HOME_DIR = "/ljprof/home"  # a tmpfs: the target's HOME (the root filesystem is read-only)
TMPFS = ("/tmp", HOME_DIR)
