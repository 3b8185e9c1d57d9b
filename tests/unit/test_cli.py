"""The `ljprof` command: invoke's Program over ljprof.tasks, with profiles.yml found upward."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ljprof.cli import program
from ljprof.config.locate import find_config
from ljprof.errors import ConfigError

PROJECT = """\
images:
  lj: {luarocks: {from: none}}
profiles:
  app:
    workdir: src
    script: main.lua
    image: lj
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src" / "deep").mkdir(parents=True)
    (root / "src" / "main.lua").write_text("return 1\n")
    (root / "profiles.yml").write_text(PROJECT)
    return root


def run(*argv: str) -> int:
    try:
        program.run(["ljprof", *argv])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_profiles_yml_is_found_upward_like_git_finds_dot_git(project: Path) -> None:
    assert find_config(None, start=project / "src" / "deep") == project / "profiles.yml"
    assert find_config("elsewhere.yml", start=project / "src") == Path("elsewhere.yml")
    with pytest.raises(ConfigError) as info:
        find_config(None, start=project.parent)
    assert str(info.value) == (f"{project.parent}: no profiles.yml here or in any folder above\n"
                               "  hint: run in your project's folder (or below it), or pass --config PATH")


def test_check_from_a_subfolder_resolves_paths_against_the_found_file(
        project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(project / "src" / "deep")
    assert run("check") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{project / 'profiles.yml'}: valid; 1 image recipe(s), 1 profile(s)"
    assert out[-1] == f"  profile app: luajit main.lua in {project / 'src'} on image lj; profilers: none"


def test_report_by_name_looks_in_reports_beside_profiles_yml(
        project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(project / "src")
    assert run("report", "--name", "app") == 2
    assert capsys.readouterr().err == (f"ljprof: error: {project / 'reports' / 'app' / 'latest'}: no run of profile "
                                       "'app' yet\n  hint: invoke profile --name app\n")


def test_no_profiles_yml_is_exit_code_2_and_says_where_it_looked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("list", "--json") == 2
    assert capsys.readouterr().err.startswith(f"ljprof: error: {tmp_path}: no profiles.yml here or in any folder")


def test_the_command_lists_the_same_tasks_as_tasks_py(capsys: pytest.CaptureFixture[str]) -> None:
    import tasks

    assert run("--list", "--list-format", "json") == 0
    listed = {t["name"] for t in json.loads(capsys.readouterr().out)["tasks"]}
    assert listed == set(tasks.ns.task_names) >= {"profile", "report", "build", "check", "list", "overview"}
    assert run("--version") == 0
    assert capsys.readouterr().out == "ljprof 0.1.0\n"
