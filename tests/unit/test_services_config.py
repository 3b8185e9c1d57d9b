"""`services:` in profiles.yml, resolved into a run plan: defaults, placeholders, secrets with defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from ljprof.config.loader import load_config, parse_config
from ljprof.config.model import EnvVar, Service
from ljprof.errors import ConfigError
from ljprof.run.plan import plan_run, redacted_profile
from ljprof.run.services import fill

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
images:
  default: {}
profiles:
  bot:
    workdir: t
    script: bot.lua
    network: host
    env:
      BOT_TOKEN: {secret: BOT_TOKEN, default: "demo-token-1234"}
    services:
      api:
        command: ["{python}", -m, ljprof.services.fake_telegram, --port, "{port}", --record, "{dir}/sent.jsonl"]
        env:
          FAKE_TELEGRAM_TOKEN: {secret: BOT_TOKEN, default: "demo-token-1234"}
          MODE: "on {port}"
        env_var: BOT_API_URL
      cache:
        image: redis:7
        command: [redis-server, --port, "{port}"]
        address: "127.0.0.1:{port}"
        ready: {file: ready}
        ready_timeout: 30s
"""


def load(tmp_path: Path, text: str = CONFIG) -> dict[str, Service]:
    (tmp_path / "t").mkdir(exist_ok=True)
    (tmp_path / "t" / "bot.lua").write_text("print(1)\n")
    profile = parse_config(text, "p.yml", tmp_path).profiles["bot"]
    return {s.name: s for s in profile.services}


def test_a_service_with_every_default_and_one_with_every_key(tmp_path: Path) -> None:
    services = load(tmp_path)
    assert services["api"] == Service(
        name="api", command=("{python}", "-m", "ljprof.services.fake_telegram", "--port", "{port}", "--record",
                             "{dir}/sent.jsonl"),
        cwd=tmp_path,  # a host command runs in profiles.yml's folder
        env=(EnvVar("FAKE_TELEGRAM_TOKEN", secret_from="BOT_TOKEN", default="demo-token-1234"),
             EnvVar("MODE", value="on {port}")),
        env_var="BOT_API_URL", address="http://127.0.0.1:{port}", ready="port", ready_timeout=10.0)
    assert services["cache"] == Service(
        name="cache", command=("redis-server", "--port", "{port}"), image="redis:7", cwd=None,
        address="127.0.0.1:{port}", ready="file", ready_file="ready", ready_timeout=30.0)


def test_secrets_take_their_default_only_when_the_host_variable_is_unset(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "bot.lua").write_text("print(1)\n")
    profile = parse_config(CONFIG, "p.yml", tmp_path).profiles["bot"]
    demo = plan_run(profile, "img", {}, host_uid=1000)
    assert demo.secret_env == {"BOT_TOKEN": "demo-token-1234"}
    assert demo.services[0].secret_env == {"FAKE_TELEGRAM_TOKEN": "demo-token-1234"}
    assert demo.services[0].env == {"MODE": "on {port}"}
    assert demo.secret_values() == ["demo-token-1234"]
    own = plan_run(profile, "img", {"BOT_TOKEN": "real-token-5678"}, host_uid=1000)
    assert own.environment["BOT_TOKEN"] == own.services[0].secret_env["FAKE_TELEGRAM_TOKEN"] == "real-token-5678"
    # the manifest names secrets, never values them (nor their defaults)
    data = redacted_profile(profile)
    assert data["env"] == {"BOT_TOKEN": "<secret from $BOT_TOKEN>"}
    assert data["services"][0]["env"] == {"FAKE_TELEGRAM_TOKEN": "<secret from $BOT_TOKEN>", "MODE": "on {port}"}
    assert "demo-token-1234" not in repr(data) and "demo-token-1234" not in repr(demo)


def test_a_secret_without_default_still_needs_its_host_variable(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "bot.lua").write_text("print(1)\n")
    profile = parse_config(CONFIG.replace('FAKE_TELEGRAM_TOKEN: {secret: BOT_TOKEN, default: "demo-token-1234"}',
                                       'FAKE_TELEGRAM_TOKEN: {secret: BOT_TOKEN}'),
                           "p.yml", tmp_path).profiles["bot"]
    with pytest.raises(ConfigError) as info:
        plan_run(profile, "img", {}, host_uid=1000)
    assert str(info.value) == (
        "profiles.bot.services.api.env.FAKE_TELEGRAM_TOKEN: the secret comes from the host variable BOT_TOKEN, "
        "which is not set\n  hint: export BOT_TOKEN=... before the run (its value is passed to the target and "
        "written nowhere)")


def test_placeholders_are_filled_when_the_run_starts() -> None:
    import sys

    assert fill("{python} --port {port} --record {dir}/x", 8081, "/r/services/api") == \
        f"{sys.executable} --port 8081 --record /r/services/api/x"


def test_the_shipped_bot_profiles_start_the_fake_bot_api() -> None:
    config = load_config(REPO / "profiles.yml")
    for name in ("bot", "bot-upstream"):
        profile = config.profiles[name]
        assert profile.network == "host"
        (api,) = profile.services
        assert (api.name, api.env_var, api.cwd, api.ready) == ("telegram", "BOT_API_URL", REPO, "port")
        assert api.command[:3] == ("{python}", "-m", "ljprof.services.fake_telegram")
        token = next(v for v in profile.env if v.name == "BOT_TOKEN")
        assert (token.secret_from, token.default) == ("BOT_TOKEN", "123456:ljprof-demo-token")
        assert api.env == (EnvVar("FAKE_TELEGRAM_TOKEN", secret_from="BOT_TOKEN", default="123456:ljprof-demo-token"),)
