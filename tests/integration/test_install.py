"""ljprof as another project gets it: a wheel in a fresh venv, and the GitHub Action's steps.

Both run in folders outside the clone, on a copy of the sample consumer
(examples/consumer/), with the real Docker engine and upstream LuaJIT served
over loopback (conftest.upstream_env). pip reaches PyPI for setuptools (the
wheel's build) and ljprof's dependencies.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from ljprof.image.plan import CONTEXT_FILES
from ljprof.profilers import PROFILERS_DIR

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker
NOT_SOURCE = shutil.ignore_patterns(".git", "build", "reports", ".ljprof", "__pycache__", "*.so", "*.egg-info",
                                    ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "node_modules")


def sh(*command: str | Path, cwd: Path | None = None, env: Mapping[str, str] | None = None,
       check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in command], cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{command} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's files as a checkout has them (no build output, no compiled decoder)."""
    copy = tmp_path_factory.mktemp("checkout") / "ljprof"
    shutil.copytree(REPO, copy, symlinks=True, ignore=NOT_SOURCE)
    return copy


@pytest.fixture(scope="session")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    sh(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, source)
    (built,) = dist.glob("ljprof-*.whl")
    return built


@pytest.fixture(scope="session")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ljprof installed from the wheel: its bin/ folder."""
    root = tmp_path_factory.mktemp("venv")
    sh(sys.executable, "-m", "venv", root)
    sh(root / "bin" / "python", "-m", "pip", "install", "--quiet", wheel)
    return root / "bin"


@pytest.fixture()
def consumer(tmp_path: Path) -> Path:
    project = tmp_path / "consumer"
    shutil.copytree(REPO / "examples" / "consumer", project)
    return project


def test_the_wheel_holds_what_a_run_needs(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"ljprof/{rel.as_posix()}" for _, rel in CONTEXT_FILES} <= names  # the image's build context
    assert {"ljprof/docker/luajit.Dockerfile", "ljprof/harness/run.lua", "ljprof/harness/imageinfo.lua",
            "ljprof/harness/ljprof_sampler.c", "ljprof/reporting/templates/index.html.j2",
            "ljprof/reporting/assets/timeline.js", "ljprof/profilers/memprof/templates/memprof.html.j2"} <= names
    harnesses = {f"ljprof/profilers/{p.parent.name}/harness.lua" for p in PROFILERS_DIR.glob("*/harness.lua")}
    assert harnesses and harnesses <= names
    assert [n for n in names if re.fullmatch(r"ljprof/profilers/memprof/_cdecode\..*\.so", n)], "no C decoder built"
    assert "ljprof-0.1.0.dist-info/entry_points.txt" in names
    entry = zipfile.ZipFile(wheel).read("ljprof-0.1.0.dist-info/entry_points.txt").decode()
    assert "ljprof = ljprof.cli:main" in entry
    assert not [n for n in names if n.startswith(("tests/", "examples/", "docker/"))]


def test_ljprof_from_the_wheel_profiles_the_consumer_outside_the_clone(
        venv: Path, consumer: Path, upstream_env: dict[str, str], tmp_path: Path) -> None:
    env = {**upstream_env, "PATH": f"{venv}{os.pathsep}{os.environ['PATH']}", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    here = consumer / "src"  # below profiles.yml: found upward
    assert not here.resolve().is_relative_to(REPO)
    helped = sh("ljprof", "--help", cwd=here, env=env).stdout
    assert "Usage: ljprof [--core-opts] <subcommand>" in helped and "  profile " in helped
    checked = sh("ljprof", "check", cwd=here, env=env).stdout.splitlines()
    assert checked[0] == f"{consumer / 'profiles.yml'}: valid; 1 image recipe(s), 2 profile(s)"
    assert checked[-1] == f"  profile index: luajit index.lua 2000 in {here} on image lua; profilers: gc, proc"
    proc = sh("ljprof", "profile", "--name", "index", cwd=here, env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = (consumer / "reports" / "index" / "latest").resolve()  # beside profiles.yml, not in the cwd
    summary = json.loads((run / "summary.json").read_text())
    assert summary["profile"] == "index" and summary["ending"]["kind"] == "return" and summary["ending"]["ok"]
    assert (run / "raw" / "stdout.log").read_text() == "index: 2000 sentences, 15 words, 16000 postings\n"
    assert list((tmp_path / "cache" / "ljprof" / "logs").glob("build-lua-*.log")) or \
        "up to date" in proc.stdout  # state outside the venv's site-packages


# --- the action's steps -----------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def evaluate(text: str, context: Mapping[str, Any]) -> str:
    """`${{ a.b.c }}` lookups (all the action uses); anything else fails the test. An output a step did
    not set is '', as on GitHub."""
    def lookup(match: re.Match[str]) -> str:
        value: Any = context
        parts = match.group(1).split(".")
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return str(context["steps"][parts[1]]["outputs"].get(parts[3], ""))
        for part in parts:
            assert isinstance(value, Mapping) and part in value, f"unsupported expression {match.group(0)}"
            value = value[part]
        return str(value)
    return EXPRESSION.sub(lookup, text)


def read_outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: key=value and key<<DELIMITER blocks."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            outputs[key] = "\n".join(block)
        elif "=" in line:
            key, value = line.split("=", 1)
            outputs[key] = value
    return outputs


def run_action(inputs: Mapping[str, str], workspace: Path, runner_temp: Path, bin_dir: Path,
               github: Mapping[str, str]) -> tuple[list[str], dict[str, dict[str, str]], Path]:
    """Run action.yml's `run:` steps in order as the runner would (bash -eo pipefail, env, GITHUB_OUTPUT);
    `uses:` steps of other actions are skipped and returned by name."""
    action = yaml.safe_load((REPO / "action.yml").read_text())
    defaults = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    context: dict[str, Any] = {"github": github, "steps": {}}
    context["inputs"] = {k: evaluate(inputs.get(k, v), context) for k, v in defaults.items()}
    summary = runner_temp / "step-summary.md"
    skipped = []
    for number, step in enumerate(action["runs"]["steps"]):
        if "uses" in step:
            skipped.append(step.get("name") or step["uses"].split("@")[0])
            continue
        assert step.get("if") in (None, "always()"), step  # nothing in between to evaluate
        output = runner_temp / f"output-{number}"
        output.touch()
        env = {**os.environ, **{k: evaluate(str(v), context) for k, v in step.get("env", {}).items()},
               "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output),
               "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(runner_temp)}
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=workspace,
                              env=env, capture_output=True, text=True, check=False)
        (runner_temp / f"log-{number}.txt").write_text(proc.stdout + proc.stderr)
        if "id" in step:
            context["steps"][step["id"]] = {"outputs": read_outputs(output), "returncode": proc.returncode}
        if proc.returncode != 0 and step.get("id") != "verdict":
            raise AssertionError(f"step {step.get('name')} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return skipped, context["steps"], summary


def test_the_actions_steps_profile_the_consumer(venv: Path, source: Path, consumer: Path,
                                                upstream_env: dict[str, str], tmp_path: Path) -> None:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    github = {"action_path": str(source), "event_name": "push", "base_ref": "", "repository": "user/consumer",
              "token": "unused"}
    inputs = {"base-image": upstream_env["LJPROF_BASE_IMAGE"], "luajit-git": upstream_env["LJPROF_LUAJIT_GIT"],
              "luajit-ref": upstream_env["LJPROF_LUAJIT_REF"], "network": "host"}
    skipped, steps, summary = run_action(inputs, consumer, runner_temp, venv, github)
    assert skipped == ["actions/setup-python", "docker/setup-buildx-action", "Build the image with buildx (cached)",
                       "Upload the run directories (and the merged index.html)",
                       "Upload the run's index.html as a page (no zip)"]
    plan = steps["plan"]["outputs"]
    assert (plan["profiles"], plan["recipe"], plan["artifact"]) == ("index wordcount", "lua", "ljprof-reports")
    assert plan["tag"].startswith("ljprof/luajit:lua-") and "LUAJIT_BUILD=auto" in plan["build-args"]
    assert steps["baseline"]["outputs"] == {}
    text = summary.read_text()
    assert "ljprof: no baseline: not a pull request (event push); only absolute budgets are checked" in text
    run = steps["run"]["outputs"]
    assert run["codes"] == "0 0" and "page" not in run
    out = Path(run["out"])
    for profile in ("index", "wordcount"):
        facts = json.loads((out / profile / "summary.json").read_text())
        assert facts["profile"] == profile and facts["ending"]["ok"], facts["ending"]
        assert (out / profile / "summary.md").read_text() in text
    wordcount = json.loads((out / "wordcount" / "summary.json").read_text())
    assert wordcount["cpu"]["samples"] > 0
    verdicts = {v["budget"]: (v["limit_text"], v["verdict"]) for v in wordcount["budgets"]["verdicts"]}
    assert verdicts == {"heap_growth": ("5MB/min", "ok"), "peak_memory": ("64MB", "ok")}, verdicts
    assert "| peak_memory | 64MB |" in text  # the budgets' table, in the job summary
    assert "wordcount" in (out / "index.html").read_text()  # the merged index
    assert steps["verdict"]["outputs"] == {"code": "0"} and steps["verdict"]["returncode"] == 0
