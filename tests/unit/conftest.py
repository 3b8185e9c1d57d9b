"""Unit tests run no Docker and no processes: any attempt fails the test at once."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

import docker


@pytest.fixture(autouse=True)
def no_docker_no_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a unit test tried to start Docker or a process: {args!r}")

    monkeypatch.setattr(docker, "from_env", refuse)
    monkeypatch.setattr(docker, "DockerClient", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
