"""A profile's services with the real engine: ready (host command and container), never ready, dies
mid-run, Ctrl-C; and after every ending no service process or container is left."""

from __future__ import annotations

import io
import json
import os
import re
import sys
from pathlib import Path

import pytest

import docker
from ljprof import commands
from ljprof.run.services import ServiceFailed

from .conftest import CI_RECIPE, containers_of, ctrl_c_profile

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker

TARGETS = {
    # asks the fake Bot API for updates and answers the first three
    "talks.lua": """local http, ltn12, cjson = require("socket.http"), require("ltn12"), require("cjson")
local base = os.getenv("API") .. "/bot" .. os.getenv("TOKEN") .. "/"
local function call(method, params)
  local body, chunks = cjson.encode(params), {}
  assert(http.request({url = base .. method, method = "POST", source = ltn12.source.string(body),
    headers = {["content-type"] = "application/json", ["content-length"] = #body}, sink = ltn12.sink.table(chunks)}))
  return cjson.decode(table.concat(chunks))
end
local updates = call("getUpdates", {timeout = 5}).result
for i = 1, 3 do
  local m = updates[i].message
  assert(call("sendMessage", {chat_id = m.chat.id, text = "re: " .. m.text}).ok)
end
local c = require("socket").tcp()
assert(c:connect(os.getenv("PONG"):match("^(.-):(%d+)$")))
print(#updates, (c:receive("*l")))
""",
    "waits.lua": 'local socket = require("socket")\nwhile true do socket.sleep(0.05) end\n',
}

# A TCP server in the test image's luajit: writes {dir}/ready once it listens, answers "pong".
PONG = ('local s = assert(require("socket").bind("127.0.0.1", tonumber(os.getenv("PORT")))) '
        'assert(io.open(os.getenv("DIR") .. "/ready", "w")):close() print("listening") io.stdout:flush() '
        'while true do local c = s:accept() c:send("pong" .. string.char(10)) c:close() end')

# Host services in Python: one that never listens, one that listens for a second and exits 3.
SLOW = "import sys, time; print('warming up', sys.argv[1], flush=True); time.sleep(60)"
FLAKY = ("import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); "
         "print('up', flush=True); time.sleep(1); print('going down', flush=True); sys.exit(3)")


def profiles(image_tag: str, marker: str) -> str:
    return CI_RECIPE + f"""
defaults:
  image: ci-git
  timeout: 60s
  grace: 2s
  network: host
profiles:
  ready:
    workdir: t
    script: talks.lua
    env:
      TOKEN: {{secret: TEST_BOT_TOKEN}}
    services:
      telegram:   # one batch of 10 updates, the next an hour later
        command: ["{{python}}", -m, ljprof.services.fake_telegram, --port, "{{port}}", --record, "{{dir}}/sent.jsonl",
                  --interval, "3600"]
        cwd: {REPO}
        env:
          FAKE_TELEGRAM_TOKEN: {{secret: TEST_BOT_TOKEN}}
        env_var: API
      pong:
        image: {image_tag}
        command: [luajit, -e, '{PONG}']
        env: {{PORT: "{{port}}", DIR: "{{dir}}"}}
        address: "127.0.0.1:{{port}}"
        env_var: PONG
        ready: {{file: ready}}
  never-ready:
    workdir: t
    script: waits.lua
    services:
      slow:
        command: ["{{python}}", -c, "{SLOW}", "{marker}"]
        ready_timeout: 1s
  exits-early:
    workdir: t
    script: waits.lua
    services:
      broken:
        command: ["{{python}}", -c, "import sys; print('no config file'); sys.exit(3)", "{marker}"]
  dies:
    workdir: t
    script: waits.lua
    duration: 4s
    services:
      flaky:
        command: ["{{python}}", -c, "{FLAKY}", "{{port}}", "{marker}"]
        env_var: FLAKY
  ctrl-c-services:
    workdir: t
    script: waits.lua
    duration: 50s   # shorter than the timeout (60s): Ctrl-C comes long before either
    services:
      telegram:
        command: ["{{python}}", -m, ljprof.services.fake_telegram, --port, "{{port}}"]
        cwd: {REPO}
        env:
          FAKE_TELEGRAM_TOKEN: token-for-ctrl-c
      pong:
        image: {image_tag}
        command: [luajit, -e, '{PONG}']
        env: {{PORT: "{{port}}", DIR: "{{dir}}"}}
        ready: {{file: ready}}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, upstream_env: dict[str, str],
            luarocks_url: str) -> tuple[Path, dict[str, str], str]:
    root = tmp_path_factory.mktemp("services")
    for name, text in TARGETS.items():
        (root / "t").mkdir(exist_ok=True)
        (root / "t" / name).write_text(text)
    (root / "profiles.yml").write_text(CI_RECIPE)
    environ = {**os.environ, **upstream_env, "TEST_BOT_TOKEN": "77:secret-test-token"}
    tag = commands.build(root / "profiles.yml", "ci-git", {}, environ, io.StringIO()).tag
    marker = f"ljprof-test-marker-{os.getpid()}"
    (root / "profiles.yml").write_text(profiles(tag, marker))
    return root, environ, marker


def processes_with(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(text.encode() == w for w in words) and b"pytest" not in words[0] + (words[1] if len(words) > 1
                                                                                   else b""):
            found.append(b" ".join(words).decode(errors="replace"))
    return found


def test_services_are_ready_before_the_target_and_stopped_after_it(
        project: tuple[Path, dict[str, str], str], docker_client: docker.DockerClient) -> None:
    root, environ, _ = project
    out = io.StringIO()
    result = commands.profile(root / "profiles.yml", "ready", None, {}, environ, out)
    m = result.manifest
    assert m["ending"]["kind"] == "return", m["ending"]
    assert (result.run_dir / "raw" / "stdout.log").read_text() == "10\tpong\n"  # a batch of 10, and the container
    telegram, pong = m["services"]
    assert (telegram["name"], telegram["kind"], telegram["state"], telegram["env_var"]) == (
        "telegram", "host", "ran", "API")
    assert telegram["address"] == f"http://127.0.0.1:{telegram['port']}"
    assert (pong["kind"], pong["state"], pong["ready"], pong["address"]) == (
        "container", "ran", "file ready", f"127.0.0.1:{pong['port']}")
    sent = [json.loads(line) for line in (result.run_dir / "services/telegram/sent.jsonl").read_text().splitlines()]
    assert [s["text"].split(": ", 1)[0] for s in sent] == ["re"] * 3
    log = (result.run_dir / "services/telegram.log").read_text().splitlines()
    assert log[1:5] == ["POST /bot***/getUpdates -> 200 10 updates"] + ["POST /bot***/sendMessage -> 200 ok"] * 3
    assert log[-1] == "stopped: 10 updates delivered, 3 messages sent"  # SIGTERM: it stopped cleanly
    assert (result.run_dir / "services/pong.log").read_text() == "listening\n"
    # the secret reached the service and the target, and nothing of the run dir shows it
    for path in result.run_dir.rglob("*"):
        assert not path.is_file() or b"secret-test-token" not in path.read_bytes(), path
    printed = out.getvalue()
    assert f"  service telegram: host command, {telegram['address']} in $API, ready in " in printed
    assert "; stopped after the target (log services/telegram.log)\n" in printed
    assert "<th>service</th><td>pong: container " in (result.run_dir / "index.html").read_text()
    assert containers_of(docker_client, "ready") == []
    assert processes_with(f"{telegram['port']}") == []


def test_a_service_never_ready_stops_the_run_before_the_target(
        project: tuple[Path, dict[str, str], str], docker_client: docker.DockerClient) -> None:
    root, environ, marker = project
    with pytest.raises(ServiceFailed) as info:
        commands.profile(root / "profiles.yml", "never-ready", None, {}, environ, io.StringIO())
    message = str(info.value)
    lines = message.splitlines()
    assert re.fullmatch(r"service 'slow' was not ready within 1 s \(waited for port 127\.0\.0\.1:\d+\); "
                        r"the target was not started", lines[0]), lines[0]
    assert lines[1].startswith(f"  command: {sys.executable} -c import sys")
    assert lines[2] == f"  | warming up {marker}"
    log = Path(lines[3].removeprefix("  log: "))
    assert log.name == "slow.log" and log.read_text() == f"warming up {marker}\n"
    assert lines[4] == "  hint: run the command by hand to see why, or raise 'ready_timeout' of " \
                       "profiles.*.services.slow if it is slow to start"
    assert info.value.exit_code == 8
    assert not (log.parent.parent / "manifest.json").exists()  # no target ran
    assert processes_with(marker) == []
    assert containers_of(docker_client, "never-ready") == []


def test_a_service_that_exits_before_it_is_ready_says_so(project: tuple[Path, dict[str, str], str]) -> None:
    root, environ, _ = project
    with pytest.raises(ServiceFailed) as info:
        commands.profile(root / "profiles.yml", "exits-early", None, {}, environ, io.StringIO())
    lines = str(info.value).splitlines()
    assert re.fullmatch(r"service 'broken' exited with code 3 before it was ready \(port 127\.0\.0\.1:\d+\); "
                        "the target was not started", lines[0]), lines[0]
    assert lines[2] == "  | no config file"


def test_a_service_that_dies_during_the_run_is_recorded(project: tuple[Path, dict[str, str], str]) -> None:
    root, environ, marker = project
    out = io.StringIO()
    result = commands.profile(root / "profiles.yml", "dies", None, {}, environ, out)
    (flaky,) = result.manifest["services"]
    assert (flaky["state"], flaky["exit_code"]) == ("died", 3)
    assert 0 < flaky["died_after_s"] < 4  # it went after 1 s of its own; the target ran 4 s
    assert (result.run_dir / "services/flaky.log").read_text() == "up\ngoing down\n"
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["services"] == [{"name": "flaky", "state": "died", "exit_code": 3,
                                    "died_after_s": flaky["died_after_s"], "log": "services/flaky.log"}]
    died = f"DIED {flaky['died_after_s']:.2f} s into the run" if flaky["died_after_s"] < 10 else "DIED"
    assert f"; {died} (exit code 3; see services/flaky.log)" in out.getvalue()
    assert "DIED" in (result.run_dir / "index.html").read_text()
    assert processes_with(marker) == []


def test_ctrl_c_stops_the_target_and_then_every_service(
        project: tuple[Path, dict[str, str], str], docker_client: docker.DockerClient) -> None:
    root, environ, _ = project
    # the target's container runs once both services are ready (the service container is the other one)
    code, stdout, stderr = ctrl_c_profile(root / "profiles.yml", "ctrl-c-services", environ, docker_client, 2, REPO,
                                          120)
    assert code == 130, stdout + stderr
    assert containers_of(docker_client, "ctrl-c-services") == []
    run_dir = Path(re.search(r"kept in (\S+)", stderr)[1])  # type: ignore[index]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["ending"]["cancelled"] is True
    telegram, pong = manifest["services"]
    assert (telegram["state"], pong["state"]) == ("ran", "ran")
    assert processes_with(str(telegram["port"])) == []
    assert (run_dir / "services/telegram.log").read_text().splitlines()[-1] == \
        "stopped: 0 updates delivered, 0 messages sent"
