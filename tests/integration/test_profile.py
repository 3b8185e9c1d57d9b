"""`invoke profile` with the real engine: every way a target can end, and what the run directory says."""

from __future__ import annotations

import io
import json
import os
import re
import threading
from pathlib import Path

import pytest

import docker
from ljprof import commands
from ljprof.errors import ConfigError, TargetFailed
from ljprof.run.runner import RunResult

from .conftest import CI_RECIPE, containers_of, ctrl_c_profile

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker
SECRET = "s3cr3t-token-value-1234"

TARGETS = {
    "returns.lua": 'print("hello from", arg[0], ...)\n',
    "fails.lua": 'local function deep() error("boom") end\nprint("before")\ndeep()\n',
    "exits.lua": 'local t = {} for i = 1, 1000 do t[i] = {i} end\nio.write("leaving\\n")\nos.exit(3)\n',
    "args.lua": 'print(select("#", ...), ...)\nprint(arg[0], arg[1], arg[2], arg[3], #arg, arg[-1])\n',
    # Never ends; blocks in C most of the time, as a bot waiting for updates does.
    "forever.lua": 'local socket = require("socket")\nlocal n = 0\nwhile true do n = n + 1 socket.sleep(0.01) end\n',
    # A tight loop that the JIT compiles: luajit's SIGINT hook never runs in a trace.
    "spin.lua": "local x = 0\nwhile true do x = x + 1 end\n",
    # About 100 MB a second, so the GC series shows the growth before the kill.
    "hog.lua": 'local socket = require("socket")\nlocal t = {}\n'
               'for i = 1, 1e9 do t[i] = ("x"):rep(4096) .. i if i % 256 == 0 then socket.sleep(0.01) end end\n',
    "secret.lua": 'local token = os.getenv("BOT_TOKEN")\nprint("token is " .. token, #token)\n'
                  'io.stderr:write("stderr sees " .. token .. "\\n")\n',
    "marks.lua": 'local ljprof = require("ljprof")\nljprof.mark("phase one")\nlocal t = {}\n'
                 'for i = 1, 1e5 do t[i] = {i} end\nljprof.mark("phase two")\n',
    "requires.lua": 'local json = require("no_such_module")\nprint(json)\n',
    # Prints (to a pipe, so stdio would buffer it), then ignores SIGINT: a kill must not lose the line.
    "talks-then-spins.lua": 'print("started")\nlocal x = 0\nwhile true do x = x + 1 end\n',
    "sub/where.lua": 'local socket = require("socket")\nprint(os.getenv("PWD"), os.getenv("HOME"))\n'
                     'local home = assert(io.open(os.getenv("HOME") .. "/note", "w"))\nhome:write("ok") home:close()\n'
                     'print(io.open("/etc/ljprof-test", "w") == nil, (io.open("../returns.lua")) ~= nil)\n',
}

PROFILES = """
defaults:
  image: ci-git
  timeout: 60s
  grace: 2s
  network: none
  limits: {memory: 256m, pids: 32}
  profilers:
    gc: {interval: 50ms}
profiles:
  returns: {workdir: targets, script: returns.lua, args: [x, "y z"]}
  fails: {workdir: targets, script: fails.lua}
  exits: {workdir: targets, script: exits.lua}
  args: {workdir: targets, script: args.lua, args: ["a b", --flag, 3]}
  forever: {workdir: targets, script: forever.lua, duration: 1500ms}
  spin: {workdir: targets, script: spin.lua, duration: 1s, grace: 1s}
  hog: {workdir: targets, script: hog.lua, limits: {memory: 48m}}
  secret:
    workdir: targets
    script: secret.lua
    env: {BOT_TOKEN: {secret: LJPROF_TEST_SECRET}, PLAIN: visible}
  marks: {workdir: targets, script: marks.lua}
  memprof: {workdir: targets, script: returns.lua, profilers: {memprof: {}}}
  timeout: {workdir: targets, script: spin.lua, timeout: 1s}
  requires: {workdir: targets, script: requires.lua}
  exits-as-expected: {workdir: targets, script: exits.lua, exit_codes: [0, 3]}
  talks-then-spins: {workdir: targets, script: talks-then-spins.lua, duration: 500ms, grace: 500ms}
  where: {workdir: targets, cwd: sub, script: where.lua}
  ctrl-c: {workdir: targets, script: forever.lua, duration: 50s}
  elsewhere: {workdir: targets, script: returns.lua, image: elsewhere}
"""
# A recipe no test builds: the profile `elsewhere` runs on ci-git through LJPROF_IMAGE.
ELSEWHERE = "  elsewhere: {luarocks: {from: none}}\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "targets").mkdir()
    for name, text in TARGETS.items():
        (root / "targets" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "targets" / name).write_text(text)
    (root / "profiles.yml").write_text(CI_RECIPE + ELSEWHERE + PROFILES)
    return root


@pytest.fixture(scope="module")
def environ(upstream_env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **upstream_env, "LJPROF_TEST_SECRET": SECRET}


def profile(project: Path, environ: dict[str, str], name: str, fails: bool = False) -> tuple[RunResult, str]:
    """Run a profile; with `fails`, it must end in TargetFailed (exit 6), whose message is printed too."""
    out = io.StringIO()
    if not fails:
        result = commands.profile(project / "profiles.yml", name, None, {}, environ, out)
        return result, out.getvalue()
    with pytest.raises(TargetFailed) as info:
        commands.profile(project / "profiles.yml", name, None, {}, environ, out)
    assert info.value.exit_code == 6
    run_dir = info.value.run_dir
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return RunResult(manifest["run_id"], run_dir, manifest), out.getvalue() + str(info.value)


def read(result: RunResult, name: str) -> str:
    return (result.run_dir / "raw" / name).read_text()


def gc_rows(result: RunResult) -> list[tuple[float, float, float]]:
    """(t, Lua heap KB, container memory KB) per sample."""
    lines = read(result, "gc.csv").splitlines()
    assert lines[0] == "t,kb,container_kb"
    return [(float(t), float(kb), float(c)) for t, kb, c in (line.split(",") for line in lines[1:])]


def gc_samples(result: RunResult) -> list[tuple[float, float]]:
    return [(t, kb) for t, kb, _ in gc_rows(result)]


def test_a_target_that_returns(project: Path, environ: dict[str, str]) -> None:
    result, printed = profile(project, environ, "returns")
    m = result.manifest
    assert m["ending"]["kind"] == "return" and m["ending"]["exit_code"] == 0
    assert m["ending"]["signals_sent"] == [] and m["ending"]["stopped_by"] is None
    assert read(result, "stdout.log") == "hello from\treturns.lua\tx\ty z\n"
    assert m["command"] == ["luajit", "returns.lua", "x", "y z"]
    assert m["image"]["recipe"] == "ci-git" and m["image"]["luajit"]["version"] == "LuaJIT 2.1.0-beta3"
    assert m["profilers"]["gc"]["samples"] >= 2  # one when the sampler starts, one when it stops
    files = {f["path"]: f for f in m["files"]}
    assert files["raw/stdout.log"]["size"] == len("hello from\treturns.lua\tx\ty z\n")
    assert files["raw/gc.csv"]["producer"] == 'gc: collectgarbage("count") samples'
    assert f"run {result.run_id}: ok: the script returned; exit code 0" in printed
    latest = result.run_dir.parent / "latest"
    assert latest.is_symlink() and os.readlink(latest) == result.run_id
    assert re.fullmatch(r"\d{8}T\d{9}Z-[0-9a-f]{6}", result.run_id)
    assert json.loads((result.run_dir / "manifest.json").read_text()) == m
    # the target's sources are kept with the run, for reports rendered from the run directory alone
    assert (result.run_dir / "sources" / "returns.lua").read_text() == TARGETS["returns.lua"]
    assert files["sources/returns.lua"]["producer"] == "a Lua source the run used, kept for reports"
    assert m["ending"]["ok"] is True and m["ending"]["message"] == "the script returned"
    # the raw files were written straight into the run directory, owned by whoever ran ljprof
    assert all(p.stat().st_uid == os.getuid() for p in (result.run_dir / "raw").iterdir())


def test_a_target_that_raises_an_error(project: Path, environ: dict[str, str]) -> None:
    result, printed = profile(project, environ, "fails", fails=True)
    ending = result.manifest["ending"]
    assert (ending["kind"], ending["exit_code"], ending["ok"]) == ("error", 1, False)
    assert "the target failed: fails.lua:1: boom\n  | luajit: fails.lua:1: boom\n  | stack traceback:" in printed
    assert ending["harness"]["message"] == "fails.lua:1: boom"
    stderr = read(result, "stderr.log").splitlines()
    # as luajit prints it, without the harness's frames
    assert stderr[:4] == ["luajit: fails.lua:1: boom", "stack traceback:", "\t[C]: in function 'error'",
                          "\tfails.lua:1: in function 'deep'"]
    assert not any("harness" in line for line in stderr)
    assert read(result, "stdout.log") == "before\n"


def test_a_target_that_calls_os_exit(project: Path, environ: dict[str, str]) -> None:
    result, printed = profile(project, environ, "exits", fails=True)
    ending = result.manifest["ending"]
    assert (ending["kind"], ending["exit_code"], ending["harness"]["code"]) == ("exit", 3, 3)
    assert "the target failed: os.exit(3): exit code 3 is not one the profile expects (0)" in printed
    expected, _ = profile(project, environ, "exits-as-expected")
    assert (expected.manifest["ending"]["ok"], expected.manifest["ending"]["message"]) == (True, "os.exit(3)")
    assert read(result, "stdout.log") == "leaving\n"
    # the sampler was stopped (and flushed) before the exit: its last sample is the end
    events = [e["event"] + " " + e["detail"] for e in result.manifest["timeline"]]
    assert events == ["begin exits.lua", "start sampler", "stop sampler", "end exit 3"]
    assert gc_samples(result)[-1][0] <= result.manifest["timeline"][-1]["t"]


def test_arguments_and_varargs_are_as_plain_luajit_gives_them(project: Path, environ: dict[str, str]) -> None:
    result, _ = profile(project, environ, "args")
    assert read(result, "stdout.log") == "3\ta b\t--flag\t3\nargs.lua\ta b\t--flag\t3\t3\tluajit\n"


def test_a_target_that_never_ends_is_stopped_by_sigint_after_the_duration(project: Path,
                                                                           environ: dict[str, str]) -> None:
    result, printed = profile(project, environ, "forever")
    ending = result.manifest["ending"]
    assert (ending["kind"], ending["stopped_by"]) == ("interrupted", "duration")
    assert [s["signal"] for s in ending["signals_sent"]] == ["SIGINT"]
    assert 1.5 <= ending["signals_sent"][0]["after_s"] < 2.0
    assert ending["harness"]["message"].endswith("interrupted!")
    assert ("ok: stopped by SIGINT at the profile's duration, as planned; exit code 1, as luajit always exits on "
            "SIGINT: normal here\n") in printed
    samples = gc_samples(result)
    # 50 ms apart over 1.5 s: about 30, and the series ends after the SIGINT
    assert 20 <= len(samples) <= 40, len(samples)
    assert samples[-1][0] >= 1.5


def test_a_tight_jit_loop_that_ignores_sigint_is_killed_after_the_grace_period(project: Path,
                                                                                environ: dict[str, str]) -> None:
    result, _ = profile(project, environ, "spin")
    ending = result.manifest["ending"]
    assert [s["signal"] for s in ending["signals_sent"]] == ["SIGINT", "SIGTERM"]
    assert (ending["kind"], ending["signal"], ending["exit_code"]) == ("signal", "SIGTERM", 143)
    assert ending["harness"] is None  # the harness never got to say anything
    # The sampler thread kept sampling while the loop ran as a compiled trace.
    samples = gc_samples(result)
    assert samples[-1][0] >= 1.8 and len(samples) >= 30


def test_a_target_over_its_memory_limit_is_recorded_as_oom(project: Path, environ: dict[str, str]) -> None:
    result, printed = profile(project, environ, "hog", fails=True)
    ending = result.manifest["ending"]
    assert (ending["kind"], ending["oom_killed"], ending["exit_code"]) == ("oom", True, 137)
    assert "the target failed: killed by the OOM killer at the memory limit (48 MiB)" in printed
    # the series grew towards the limit before the kill, the container's memory with the Lua heap
    rows = gc_rows(result)
    assert max(kb for _, kb, _ in rows) > 10 * 1024
    assert rows[-1][2] > 10 * 1024 and rows[-1][2] <= 48 * 1024


def test_the_hard_timeout_kills(project: Path, environ: dict[str, str]) -> None:
    result, printed = profile(project, environ, "timeout", fails=True)
    ending = result.manifest["ending"]
    assert (ending["kind"], ending["timed_out"]) == ("timeout", True)
    assert "the target failed: killed at the profile's timeout" in printed
    assert [s["signal"] for s in ending["signals_sent"]] == ["SIGKILL"]


def test_a_target_that_fails_at_require_fails_the_task(project: Path, environ: dict[str, str]) -> None:
    result, printed = profile(project, environ, "requires", fails=True)
    ending = result.manifest["ending"]
    assert (ending["kind"], ending["ok"]) == ("error", False)
    assert ending["message"] == "requires.lua:1: module 'no_such_module' not found:"
    assert "the target failed: requires.lua:1: module 'no_such_module' not found:\n" in printed
    assert "  | \trequires.lua:1: in main chunk\n" in printed


def test_a_killed_target_keeps_what_it_printed(project: Path, environ: dict[str, str]) -> None:
    result, _ = profile(project, environ, "talks-then-spins")
    assert (result.manifest["ending"]["kind"], result.manifest["ending"]["signal"]) == ("signal", "SIGTERM")
    assert result.manifest["ending"]["ok"] is True  # ljprof stopped it as planned, after the grace period
    assert read(result, "stdout.log") == "started\n"


def test_the_target_runs_in_its_cwd_with_a_home_and_a_read_only_root(project: Path,
                                                                     environ: dict[str, str]) -> None:
    result, _ = profile(project, environ, "where")
    assert read(result, "stdout.log") == "/ljprof/target/sub\t/ljprof/home\ntrue\ttrue\n"
    assert result.manifest["cwd"] == "sub"
    # a Lua module the target loaded from the image is kept for reports, under its path in the image
    kept = [f["path"] for f in result.manifest["files"] if f["path"].startswith("sources/usr/")]
    assert "sources/usr/share/lua/5.1/socket.lua" in kept
    assert (result.run_dir / "sources/usr/share/lua/5.1/socket.lua").read_text().count("\n") > 50
    assert not (result.run_dir / "raw" / "image-sources.bundle").exists()


def test_a_secret_reaches_the_target_and_no_file_of_the_run(project: Path, environ: dict[str, str]) -> None:
    result, printed = profile(project, environ, "secret")
    assert read(result, "stdout.log") == f"token is ***\t{len(SECRET)}\n"
    assert read(result, "stderr.log") == "stderr sees ***\n"
    assert result.manifest["config"]["env"] == {"BOT_TOKEN": "<secret from $LJPROF_TEST_SECRET>",
                                                "PLAIN": "visible"}
    for path in result.run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in printed


def test_marks_from_the_target_land_on_the_timeline(project: Path, environ: dict[str, str]) -> None:
    result, _ = profile(project, environ, "marks")
    marks = [e for e in result.manifest["timeline"] if e["event"] == "mark"]
    assert [m["detail"] for m in marks] == ["phase one", "phase two"]
    assert marks[0]["t"] < marks[1]["t"]


def test_ljprof_image_is_printed_and_recorded_as_the_recipe_that_ran(project: Path, environ: dict[str, str]) -> None:
    result, printed = profile(project, {**environ, "LJPROF_IMAGE": "ci-git"}, "elsewhere")
    assert "\n  override  image = ci-git (from LJPROF_IMAGE)\n" in printed
    assert result.manifest["config"]["image"] == "ci-git"  # not the profile's `elsewhere`: that did not run
    assert result.manifest["image"]["recipe"] == "ci-git"
    recorded = result.manifest["image"]["overrides"]
    assert recorded[0] == {"name": "image", "value": "ci-git", "from": "LJPROF_IMAGE"}
    assert {"name": "base_image", "value": environ["LJPROF_BASE_IMAGE"], "from": "LJPROF_BASE_IMAGE"} in recorded


def test_memprof_on_an_image_without_it_is_refused_before_the_run(project: Path, environ: dict[str, str]) -> None:
    before = sorted((project / "reports").glob("memprof/*"))
    with pytest.raises(ConfigError) as info:
        profile(project, environ, "memprof")
    assert re.fullmatch(
        r"profiles\.memprof\.profilers\.memprof: ljprof/luajit:ci-git-[0-9a-f]{12} cannot run it: misc\.memprof is "
        r"absent \(upstream LuaJIT has no memprof; use an image of Tarantool's LuaJIT\)\n"
        r"  hint: choose another image recipe with --image or LJPROF_IMAGE, or remove the profiler from the profile",
        str(info.value)), str(info.value)
    assert sorted((project / "reports").glob("memprof/*")) == before  # no run directory


def test_two_runs_of_one_profile_at_once_get_two_directories(project: Path, environ: dict[str, str]) -> None:
    results: list[RunResult] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(commands.profile(project / "profiles.yml", "returns", None, {}, environ, io.StringIO()))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.run_dir for r in results}) == 2
    for r in results:
        assert r.manifest["ending"]["kind"] == "return"
        assert read(r, "stdout.log") == "hello from\treturns.lua\tx\ty z\n"


def test_ctrl_c_of_the_task_stops_the_target_and_leaves_no_container(
        project: Path, environ: dict[str, str], docker_client: docker.DockerClient) -> None:
    # its own profile: a duration long enough that only the Ctrl-C can end it, however loaded the machine
    code, stdout, stderr = ctrl_c_profile(project / "profiles.yml", "ctrl-c", environ, docker_client, 1, REPO, 60)
    assert code == 130, stdout + stderr
    assert containers_of(docker_client, "ctrl-c") == []
    run_dir = Path(re.search(r"kept in (\S+)", stderr)[1])  # type: ignore[index]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["ending"]["cancelled"] is True
    assert manifest["ending"]["kind"] == "interrupted"
