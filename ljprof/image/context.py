"""The Docker build context for a plan: as a tar stream (the SDK) or a folder (buildx).

Both hold the same files: the Dockerfile and the scripts it copies, and in
luajit-src/ either the local LuaJIT tree (with its .git, for `git describe`)
or one placeholder file, so that `COPY luajit-src/` works in either mode;
loom-src/ likewise holds a local loom checkout's files or the placeholder.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path
from typing import IO

from ljprof.image.plan import CONTEXT_FILES, LOCAL_SOURCE_DIR, LOOM_SOURCE_DIR, BuildPlan, iter_loom_files

PLACEHOLDER = "NO-LOCAL-SOURCE"  # the file luajit-src/ (loom-src/) holds when LuaJIT (loom) has no local source
PLACEHOLDER_TEXT = b"No local source in this build: see LUAJIT_GIT, LOOM_FROM and LOOM_GIT.\n"


def _members(plan: BuildPlan) -> list[tuple[str, Path | None]]:
    """(name in context, source path) pairs; a None source is the placeholder."""
    members: list[tuple[str, Path | None]] = [(name, plan.package_root / rel) for name, rel in CONTEXT_FILES]
    loom = plan.loom_source
    if loom is None:
        members.append((f"{LOOM_SOURCE_DIR}/{PLACEHOLDER}", None))
    else:
        members.extend((f"{LOOM_SOURCE_DIR}/{name}", path) for name, path in iter_loom_files(loom))
    if plan.local_source is None:
        members.append((f"{LOCAL_SOURCE_DIR}/{PLACEHOLDER}", None))
        return members
    for dirpath, dirnames, filenames in os.walk(plan.local_source):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            rel = path.relative_to(plan.local_source).as_posix()
            members.append((f"{LOCAL_SOURCE_DIR}/{rel}", path))
    return members


def write_context_tar(plan: BuildPlan, fileobj: IO[bytes]) -> None:
    """Write the context as an uncompressed tar, with fixed owners and times."""
    with tarfile.open(fileobj=fileobj, mode="w") as tar:
        for name, path in _members(plan):
            if path is None:
                info = tarfile.TarInfo(name)
                info.size = len(PLACEHOLDER_TEXT)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(PLACEHOLDER_TEXT))
                continue
            info = tar.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if info.isreg():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)


def write_context_dir(plan: BuildPlan, out: Path) -> None:
    """Write the same context into a folder (for `docker buildx build out/`)."""
    for name, path in _members(plan):
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if path is None:
            target.write_bytes(PLACEHOLDER_TEXT)
        elif path.is_symlink():
            target.symlink_to(os.readlink(path))
        else:
            shutil.copy2(path, target)
