"""docker_engine.build_image on a scripted event stream: what a failed build's message ends with."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ljprof import docker_engine
from ljprof.config.loader import load_config
from ljprof.errors import BuildFailed
from ljprof.image.plan import Overrides, plan_build

REPO = Path(__file__).resolve().parents[2]


class FakeApi:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    def build(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["fileobj"].read()  # the context was written
        return iter(self.events)


class FakeClient:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.api = FakeApi(events)


def test_a_failed_step_ends_with_its_own_last_lines_without_the_builders_noise() -> None:
    plan = plan_build(load_config(REPO / "profiles.yml").images["default"], Overrides())
    events = [
        {"stream": "Step 18/30 : RUN sh /usr/local/lib/ljprof/build/build-luajit.sh\n"},
        {"stream": " ---> Running in 45242db25d39\n"},
        {"stream": "\x1b[91merror: patch failed: src/lj_symtab.c:336\n"},
        {"stream": "\x1b[0m"},
        {"stream": "\x1b[91mljprof fix 'x' does not apply\n  hint: leave 'x' out\n\x1b[0m"},
        {"stream": "Removing intermediate container 45242db25d39\n"},
        {"error": "The command '/bin/sh -c sh /usr/local/lib/ljprof/build/build-luajit.sh' returned a "
                  "non-zero code: 3"},
    ]
    log = io.StringIO()
    with pytest.raises(BuildFailed) as info:
        docker_engine.build_image(FakeClient(events), plan, docker_engine.BuildListener(), log)  # type: ignore[arg-type]
    assert str(info.value) == (
        "the image build failed at step 18/30: RUN sh /usr/local/lib/ljprof/build/build-luajit.sh\n"
        "The command '/bin/sh -c sh /usr/local/lib/ljprof/build/build-luajit.sh' returned a non-zero code: 3\n"
        "--- last 4 lines of that step's output ---\n"
        " ---> Running in 45242db25d39\n"
        "error: patch failed: src/lj_symtab.c:336\n"
        "ljprof fix 'x' does not apply\n"
        "  hint: leave 'x' out")
    assert "\x1b" not in log.getvalue()


def test_a_line_the_engine_sends_in_pieces_is_one_line() -> None:
    plan = plan_build(load_config(REPO / "profiles.yml").images["default"], Overrides())
    events = [
        {"stream": "Step 7/30 : RUN sh /usr/local/lib/ljprof/build/install-packages.sh\n"},
        {"stream": "Reading package lists...\n"},
        # as apt's coloured "E:" arrives from the classic builder: three events, one line
        {"stream": "\x1b[91mE"}, {"stream": "\x1b[0m: "}, {"stream": "Unable to locate package nope\n"},
        {"stream": "no newline at the end"},
        {"error": "The command '/bin/sh -c sh x' returned a non-zero code: 100"},
    ]
    with pytest.raises(BuildFailed) as info:
        docker_engine.build_image(FakeClient(events), plan, docker_engine.BuildListener(),  # type: ignore[arg-type]
                                  io.StringIO())
    assert str(info.value).endswith(
        "--- last 3 lines of that step's output ---\n"
        "Reading package lists...\n"
        "E: Unable to locate package nope\n"
        "no newline at the end")
