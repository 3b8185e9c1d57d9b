"""profiles: and defaults: in profiles.yml, run planning, and the runner's pure parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ljprof.config.loader import load_config
from ljprof.config.model import EnvVar, Profile
from ljprof.errors import ConfigError
from ljprof.run.plan import lua_literal, options_file_text, plan_run, redact, redacted_profile
from ljprof.run.runner import (
    Supervision,
    describe_ending,
    make_run_dir,
    new_run_id,
    parse_harness_log,
    point_latest,
    unpack_image_sources,
)

REPO = Path(__file__).resolve().parents[2]
IMAGES = "images:\n  default: {}\n  other: {}\n"


def project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "main.lua").write_text("print(1)\n")
    (tmp_path / "profiles.yml").write_text(IMAGES + text)
    return tmp_path / "profiles.yml"


def test_the_shipped_bot_profile() -> None:
    bot = load_config(REPO / "profiles.yml").profiles["bot"]
    assert (bot.image, bot.script, bot.workdir) == ("default", "bot.lua", REPO / "examples" / "bot")
    assert (bot.duration, bot.timeout, bot.grace, bot.network) == (5.0, 120.0, 3.0, "host")  # for its service
    assert (bot.limits.memory, bot.limits.cpus, bot.limits.pids) == (1024**3, 1.0, 64)
    assert bot.profilers == {"gc": {"interval": 0.1}, "memprof": {"start": "manual", "windows": 1.0},
                             "metrics": {"interval": 0.1}, "proc": {}}
    assert bot.env == (EnvVar("BOT_NAME", "ljprof-demo"),
                       EnvVar("BOT_TOKEN", secret_from="BOT_TOKEN", default="123456:ljprof-demo-token"))
    assert [s.name for s in bot.services] == ["telegram"]


def test_defaults_merge_key_by_key_and_a_profile_can_switch_a_profiler_off(tmp_path: Path) -> None:
    config = load_config(project(tmp_path, (
        "defaults:\n  duration: 250ms\n  env: {A: one, B: two}\n  limits: {memory: 64m, pids: 10}\n"
        "  profilers: {gc: {interval: 1s}, metrics: true}\n"
        "profiles:\n"
        "  p:\n    workdir: t\n    script: main.lua\n    args: [--n, 10, 2.5]\n"
        "    env: {B: three, C: {secret: HOST_C}}\n"
        "    limits: {pids: 20}\n    profilers: {metrics: false, memprof: {}}\n")))
    p = config.profiles["p"]
    assert p.args == ("--n", "10", "2.5")
    assert p.env == (EnvVar("A", "one"), EnvVar("B", "three"), EnvVar("C", secret_from="HOST_C"))
    assert (p.limits.memory, p.limits.pids, p.limits.cpus) == (64 * 1024**2, 20, None)
    assert p.profilers == {"gc": {"interval": 1.0}, "memprof": {"start": "auto", "windows": 1.0}}
    assert (p.duration, p.timeout, p.grace, p.network, p.image) == (0.25, 600.0, 5.0, "default", "default")


@pytest.mark.parametrize(("text", "seconds"), [("250ms", 0.25), ("5s", 5.0), ("2m", 120.0), ("1h", 3600.0),
                                                ("1.5s", 1.5), ("3", 3.0), ("0.5", 0.5)])
def test_durations(tmp_path: Path, text: str, seconds: float) -> None:
    config = load_config(project(tmp_path, f"profiles:\n  p: {{workdir: t, script: main.lua, duration: {text}, "
                                           "timeout: 2h}\n"))
    assert config.profiles["p"].duration == seconds


def test_every_error_of_a_profile_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(project(tmp_path, (
            "profiles:\n  p:\n    workdir: t\n    script: main.lua\n    timeout: -1\n    limits: {cpus: 0, ram: 1g}\n"
            "    env: {1X: a, OK: [1]}\n")))
    f = tmp_path / "profiles.yml"
    assert str(info.value).splitlines() == [
        f"{f}:8:14: profiles.p.timeout: -1 is too short; it must be more than 0",
        f"{f}:9:20: profiles.p.limits.cpus: expected a number above 0, got 0 (a number)",
        f"{f}:9:23: profiles.p.limits: unknown key 'ram'",
        "  hint: allowed keys: cpus, memory, pids",
        f"{f}:10:11: profiles.p.env.1X: a variable name is letters, digits and '_', not starting with a digit",
        f"{f}:10:22: profiles.p.env.OK: expected a string, or {{secret: HOST_VARIABLE}}, got a list",
    ]


def a_profile(**changes: object) -> Profile:
    base = Profile(name="bot", image="default", workdir=Path("/w"), script="bot.lua", args=("a",),
                   env=(EnvVar("PLAIN", "x"), EnvVar("TOKEN", secret_from="HOST_TOKEN")),
                   profilers={"gc": {"interval": 0.1}, "memprof": {"start": "auto", "windows": 0.5}})
    return Profile(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_run_plan_passes_secrets_only_to_the_container() -> None:
    plan = plan_run(a_profile(), "img:1", {"HOST_TOKEN": "tok-12345"}, host_uid=1000)
    assert plan.command == ["luajit", "/ljprof/harness/run.lua", "/ljprof/config/options.lua", "bot.lua", "a"]
    assert plan.env == {"PLAIN": "x", "PWD": "/ljprof/target", "HOME": "/ljprof/home"}
    assert plan.environment == {"PLAIN": "x", "PWD": "/ljprof/target", "HOME": "/ljprof/home", "TOKEN": "tok-12345"}
    assert "tok-12345" not in repr(plan)
    assert "tok-12345" not in str(redacted_profile(plan.profile))
    assert redacted_profile(plan.profile)["env"] == {"PLAIN": "x", "TOKEN": "<secret from $HOST_TOKEN>"}
    assert plan.harness_options == {"out": "/ljprof/out", "profilers": {
        "gc": {"path": "gc.csv", "interval": 0.1}, "memprof": {"path": "memprof.bin", "start": "auto", "windows": 0.5,
                                           "harness": "/ljprof/profilers/memprof/harness.lua"}}}
    assert redact("token=tok-12345;", plan.secret_values()) == "token=***;"


def test_a_missing_secret_is_an_error_that_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        plan_run(a_profile(), "img:1", {}, host_uid=1000)
    assert str(info.value) == (
        "profiles.bot.env.TOKEN: the secret comes from the host variable HOST_TOKEN, which is not set\n"
        "  hint: export HOST_TOKEN=... before the run (its value is passed to the target and written nowhere)")


def test_root_on_the_host_runs_the_target_unprivileged() -> None:
    assert plan_run(a_profile(env=()), "img", {}, host_uid=0).user == "10001:10001"
    assert plan_run(a_profile(env=()), "img", {}, host_uid=1000).user == "1000:1000"


def test_harness_options_are_a_lua_table() -> None:
    assert lua_literal({"b": [1, 2.5, True, None], "a": 'q"\n\\é'}) == (
        '{["a"] = "q\\034\\010\\092\\195\\169", ["b"] = {1, 2.5, true, nil}}')
    text = options_file_text(plan_run(a_profile(env=()), "img", {}, host_uid=1))
    assert text.splitlines()[1] == (
        'return {["out"] = "/ljprof/out", ["profilers"] = {["gc"] = {["interval"] = 0.1, ["path"] = "gc.csv"}, '
        '["memprof"] = {["harness"] = "/ljprof/profilers/memprof/harness.lua", ["path"] = "memprof.bin", '
        '["start"] = "auto", ["windows"] = 0.5}}}')


def test_run_ids_sort_by_time_and_directories_are_never_reused(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    early = new_run_id(datetime(2026, 11, 25, 4, 5, 6, 7000, tzinfo=timezone.utc))
    late = new_run_id(datetime(2026, 11, 25, 4, 5, 6, 8000, tzinfo=timezone.utc))
    assert early.startswith("20261125T040506007Z-") and early < late and ":" not in early
    dirs = {make_run_dir(tmp_path, "bot")[1] for _ in range(20)}
    assert len(dirs) == 20 and all((d / "raw").is_dir() for d in dirs)
    run_id = sorted(dirs)[-1].name
    point_latest(tmp_path, "bot", run_id)
    point_latest(tmp_path, "bot", run_id)  # replacing works
    assert (tmp_path / "bot" / "latest").resolve() == tmp_path / "bot" / run_id


def test_harness_log_and_endings(tmp_path: Path) -> None:
    log = tmp_path / "harness.tsv"
    log.write_text("begin\t0.000100\tbot.lua\nstart\t0.000200\tmemprof\nmark\t1.5\tphase two\n"
                   "end\t5.000000\tinterrupted 1 bot.lua:9: interrupted!\n")
    harness = parse_harness_log(log)
    assert harness["end"] == {"how": "interrupted", "code": 1, "message": "bot.lua:9: interrupted!"}
    assert harness["events"][2] == {"event": "mark", "t": 1.5, "detail": "phase two"}
    sup = Supervision(signals=[{"signal": "SIGINT", "after_s": 5.0, "reason": "duration"}], stopped_by="duration")
    assert describe_ending({"ExitCode": 1, "OOMKilled": False}, sup, harness)["kind"] == "interrupted"
    nothing = {"events": [], "end": None}
    assert describe_ending({"ExitCode": 137, "OOMKilled": True}, Supervision(), nothing)["kind"] == "oom"
    killed = describe_ending({"ExitCode": 143, "OOMKilled": False}, sup, nothing)
    assert (killed["kind"], killed["signal"]) == ("signal", "SIGTERM")
    assert describe_ending({"ExitCode": 137}, Supervision(timed_out=True), nothing)["kind"] == "timeout"
    assert parse_harness_log(tmp_path / "missing.tsv") == nothing


def ending(code: int, harness_end: dict[str, object] | None, sup: Supervision | None = None,
           expected: tuple[int, ...] = (0,), oom: bool = False) -> tuple[str, bool, str]:
    e = describe_ending({"ExitCode": code, "OOMKilled": oom}, sup or Supervision(),
                        {"events": [], "end": harness_end}, expected, 256 * 1024**2)
    return e["kind"], e["ok"], e["message"]


def test_how_a_run_ended_decides_success() -> None:
    at_duration = Supervision(signals=[{"signal": "SIGINT", "after_s": 5.0, "reason": "duration"}],
                              stopped_by="duration")
    assert ending(0, {"how": "return", "code": 0, "message": ""}) == ("return", True, "the script returned")
    assert ending(1, {"how": "interrupted", "code": 1, "message": "x.lua:3: interrupted!"}, at_duration) == (
        "interrupted", True,
        "stopped by SIGINT at the profile's duration, as planned (luajit then exits with code 1)")
    assert ending(1, {"how": "interrupted", "code": 1, "message": "x.lua:3: interrupted!"})[:2] == (
        "interrupted", False)
    assert ending(1, {"how": "error", "code": 1,
                      "message": "main.lua:1: module 'nope' not found:"}) == (
        "error", False, "main.lua:1: module 'nope' not found:")
    assert ending(1, {"how": "exit", "code": 1, "message": ""}) == (
        "exit", False, "os.exit(1): exit code 1 is not one the profile expects (0)")
    assert ending(1, {"how": "exit", "code": 1, "message": ""}, expected=(0, 1)) == ("exit", True, "os.exit(1)")
    assert ending(139, None) == ("signal", False, "crashed: killed by SIGSEGV")
    late = Supervision(signals=[*at_duration.signals, {"signal": "SIGTERM", "after_s": 8.0, "reason": "grace"}],
                       stopped_by="duration")
    assert ending(143, None, late)[:2] == ("signal", True)
    assert ending(137, None, oom=True) == ("oom", False, "killed by the OOM killer at the memory limit (256 MiB)")
    assert ending(137, None, Supervision(timed_out=True, stopped_by="timeout")) == (
        "timeout", False, "killed at the profile's timeout")
    assert ending(2, None)[1:] == (False, "ended with exit code 2 before the harness could say how")


def test_cwd_and_exit_codes(tmp_path: Path) -> None:
    config = project(tmp_path, "profiles:\n  lint:\n    workdir: t\n    cwd: sub\n    script: ../main.lua\n"
                               "    exit_codes: [1, 0, 1]\n")
    (tmp_path / "t" / "sub").mkdir()
    lint = load_config(config).profiles["lint"]
    assert (lint.cwd, lint.script, lint.exit_codes) == ("sub", "../main.lua", (0, 1))
    plan = plan_run(lint, "img", {}, host_uid=1000)
    assert (plan.working_dir, plan.env["PWD"]) == ("/ljprof/target/sub", "/ljprof/target/sub")
    (tmp_path / "b").mkdir()
    assert load_config(project(tmp_path / "b", "profiles:\n  p: {workdir: t, script: main.lua}\n")
                       ).profiles["p"].exit_codes == (0,)


def test_image_sources_bundle_is_unpacked_leniently(tmp_path: Path) -> None:
    bundle = tmp_path / "raw" / "image-sources.bundle"
    bundle.parent.mkdir()
    http = b"local M = {}\nreturn M\n"
    bundle.write_bytes(b"/usr/share/lua/5.1/socket/http.lua\t" + str(len(http)).encode() + b"\n" + http
                       + b"/etc/../x.lua\t1\nx"  # no escaping the sources folder
                       + b"/usr/share/lua/5.1/cut.lua\t100\nonly a part")  # cut by a kill
    kept = unpack_image_sources(bundle, tmp_path / "sources", 10_000)
    assert kept == len(http)
    assert (tmp_path / "sources/usr/share/lua/5.1/socket/http.lua").read_bytes() == http
    assert sorted(p.name for p in (tmp_path / "sources").rglob("*.lua")) == ["http.lua"]
    assert not bundle.exists()


def test_memprof_windows_can_be_switched_off_and_has_a_floor(tmp_path: Path) -> None:
    config = project(tmp_path, "profiles:\n"
                               "  a: {workdir: t, script: main.lua, profilers: {memprof: {windows: false}}}\n"
                               "  b: {workdir: t, script: main.lua, profilers: {memprof: {windows: 250ms}}}\n")
    profiles = load_config(config).profiles
    assert profiles["a"].profilers["memprof"]["windows"] == 0.0
    assert profiles["b"].profilers["memprof"]["windows"] == 0.25
    (tmp_path / "profiles.yml").write_text(IMAGES + "profiles:\n  a: {workdir: t, script: main.lua, "
                                           "profilers: {memprof: {windows: 10ms}}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "profiles.yml")
    assert str(info.value).endswith("profiles.a.profilers.memprof.windows: 10ms is too short; "
                                    "it must be at least 0.05 seconds")
