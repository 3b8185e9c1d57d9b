"""A profile's services: companion processes started before the target and stopped after it.

Each service listens on the host's 127.0.0.1 at a port ljprof picks (the
target runs with `network: host`, which the loader requires, so it reaches it
there). A host command runs in its own session (Ctrl-C in a terminal reaches
ljprof, which stops the target first and the service after it) and dies with
ljprof even if ljprof is killed (PR_SET_PDEATHSIG); a container runs on the
host's network with ljprof's labels, so `invoke clean` finds a leftover.
Every service's output goes to the run directory's services/<name>.log,
secrets masked; what happened to it goes to the manifest (`records()`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from ljprof import docker_engine
from ljprof.errors import LjprofError
from ljprof.image.plan import LABEL_MANAGED
from ljprof.run.plan import ServicePlan, redact

LABEL_SERVICE = "org.ljprof.service"
SERVICE_DIR = "/ljprof/service"  # a container service's {dir}
STOP_GRACE = 3.0  # seconds between SIGTERM and SIGKILL when a service is stopped
LOG_TAIL = 15  # lines of a service's log shown when it fails to start
_PR_SET_PDEATHSIG = 1


class ServiceFailed(LjprofError):
    """A service did not become ready (or exited) before the target could start; nothing was run."""

    exit_code = 8


def free_port() -> int:
    """A port nothing listens on now (the kernel's choice); the service binds it a moment later."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(text: str, port: int, folder: str) -> str:
    """A command word, env value or address with {port}, {dir} and {python} filled in."""
    return text.replace("{port}", str(port)).replace("{dir}", folder).replace("{python}", sys.executable)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when ljprof's process goes, whatever way it goes (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Running:
    """One started service and what became of it."""

    plan: ServicePlan
    port: int
    folder: Path  # services/<name>/ in the run directory: its {dir}
    log: Path  # services/<name>.log
    command: list[str]
    started: float  # time.monotonic()
    proc: subprocess.Popen[bytes] | None = None
    container: Any = None
    ready_s: float | None = None
    died_at: float | None = None  # time.monotonic() when it was first seen gone while it should run
    exit_code: int | None = None
    stopped: bool = False

    @property
    def name(self) -> str:
        return self.plan.service.name

    @property
    def address(self) -> str:
        return fill(self.plan.service.address, self.port, self.dir_text)

    @property
    def ready_text(self) -> str:
        """What tells it is ready: `port 127.0.0.1:N` or `file PATH`."""
        service = self.plan.service
        return f"port 127.0.0.1:{self.port}" if service.ready == "port" else f"file {service.ready_file}"

    @property
    def dir_text(self) -> str:
        return SERVICE_DIR if self.plan.service.image else str(self.folder)

    def exited(self) -> int | None:
        """Its exit code if it has ended, else None."""
        if self.proc is not None:
            return self.proc.poll()
        state = docker_engine.container_state(self.container)
        return None if state["Status"] in ("created", "running") else int(state.get("ExitCode", -1))

    def is_ready(self) -> bool:
        service = self.plan.service
        if service.ready == "file":
            return (self.folder / service.ready_file).exists()
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", self.port)) == 0


class Services:
    """The run's services, started in the order the profile lists them."""

    def __init__(self, client: docker.DockerClient | None, run_dir: Path, user: str, labels: dict[str, str],
                 secrets: list[str]) -> None:
        self.client = client
        self.run_dir = run_dir
        self.user = user
        self.labels = labels
        self.secrets = secrets
        self.running: list[Running] = []
        self.target_started: float | None = None

    def start(self, plan: ServicePlan) -> Running:
        service = plan.service
        folder = self.run_dir / "services" / service.name
        folder.mkdir(parents=True)
        port = free_port()
        entry = Running(plan, port, folder, folder.with_name(f"{service.name}.log"), [], time.monotonic())
        entry.command = [fill(word, port, entry.dir_text) for word in service.command]
        env = {name: fill(value, port, entry.dir_text) for name, value in plan.env.items()}
        self.running.append(entry)
        if service.image:
            self._start_container(entry, {**env, **plan.secret_env})
        else:
            with entry.log.open("wb") as log:
                entry.proc = subprocess.Popen(
                    entry.command, cwd=service.cwd, env={**os.environ, **env, **plan.secret_env},
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, preexec_fn=_die_with_parent)
        return entry

    def _start_container(self, entry: Running, env: dict[str, str]) -> None:
        if self.client is None:
            raise LjprofError("a container service needs the Docker engine")
        uid, _, gid = self.user.partition(":")
        if os.geteuid() == 0:  # the unprivileged run user writes the service's folder
            os.chown(entry.folder, int(uid), int(gid))
        entry.container = docker_engine.start_service(
            self.client, entry.plan.service.image, entry.command, env=env, user=self.user,
            folder=(str(entry.folder.resolve()), SERVICE_DIR),
            labels={**self.labels, LABEL_MANAGED: "true", LABEL_SERVICE: entry.name})

    def wait_ready(self, entry: Running) -> None:
        """Until the service is ready; ServiceFailed (with its log's tail) if it exits or the timeout passes."""
        service = entry.plan.service
        deadline = entry.started + service.ready_timeout
        what = entry.ready_text
        while True:
            if entry.is_ready():
                entry.ready_s = round(time.monotonic() - entry.started, 3)
                return
            code = entry.exited()
            if code is not None:
                entry.exit_code = code
                problem = f"exited with code {code} before it was ready ({what})"
                break
            if time.monotonic() >= deadline:
                problem = f"was not ready within {service.ready_timeout:g} s (waited for {what})"
                break
            time.sleep(0.05)
        self.stop_all()
        tail = [f"  | {line}" for line in self.log_lines(entry)[-LOG_TAIL:]] or ["  (its log is empty)"]
        raise ServiceFailed(
            f"service '{entry.name}' {problem}; the target was not started\n"
            f"  command: {' '.join(entry.command)}\n" + "\n".join(tail)
            + f"\n  log: {entry.log}\n  hint: run the command by hand to see why, or raise "
            f"'ready_timeout' of profiles.*.services.{entry.name} if it is slow to start")

    def env(self) -> dict[str, str]:
        """What the target's environment gets: each service's address in the variable the profile names."""
        return {r.plan.service.env_var: r.address for r in self.running if r.plan.service.env_var}

    def watch(self) -> None:
        """Called while the target runs: note the first moment a service is seen gone."""
        now = time.monotonic()
        for entry in self.running:
            if entry.died_at is None and not entry.stopped and (code := entry.exited()) is not None:
                entry.died_at, entry.exit_code = now, code

    def stop_all(self) -> None:
        """Stop every service (the last started first) and keep its log; safe to call twice."""
        self.watch()
        for entry in reversed(self.running):
            if entry.stopped:
                continue
            entry.stopped = True
            if entry.proc is not None:
                _stop_process(entry.proc)
            elif entry.container is not None:
                docker_engine.stop_service(entry.container, entry.log, STOP_GRACE)
            self._mask(entry.log)

    def _mask(self, log: Path) -> None:
        if self.secrets and log.is_file():
            text = log.read_text(encoding="utf-8", errors="replace")
            masked = redact(text, self.secrets)
            if masked != text:
                log.write_text(masked, encoding="utf-8")

    def log_lines(self, entry: Running) -> list[str]:
        if not entry.log.is_file():
            return []
        return redact(entry.log.read_text(encoding="utf-8", errors="replace"), self.secrets).splitlines()

    def records(self) -> list[dict[str, Any]]:
        """For the manifest: each service, how it ran and whether it died while the target ran."""
        out = []
        for r in self.running:
            s = r.plan.service
            died = r.died_at is not None
            record: dict[str, Any] = {
                "name": s.name,
                "kind": "container" if s.image else "host",
                "image": s.image or None,
                "command": [redact(word, self.secrets) for word in r.command],
                "port": r.port,
                "address": r.address,
                "env_var": s.env_var or None,
                "ready": r.ready_text,
                "ready_s": r.ready_s,
                "state": "died" if died else "ran" if r.ready_s is not None else "not ready",
                "exit_code": r.exit_code if died else None,
                "died_after_s": round(r.died_at - self.target_started, 3)
                if died and r.died_at is not None and self.target_started is not None else None,
                "log": r.log.relative_to(self.run_dir).as_posix(),
            }
            out.append(record)
        return out


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the service's process group, SIGKILL after STOP_GRACE: nothing of it is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=STOP_GRACE)
            if sig == signal.SIGTERM:  # the leader is gone; its group may not be
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue
