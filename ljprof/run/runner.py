"""One run: a planned target in a container -> reports/<profile>/<run-id>/ with raw/ and manifest.json.

The run directory is created with an exclusive mkdir before the container
starts, so no run ever overwrites another; manifest.json is written last,
through a temporary file, and says how the target ended in every case the
runner can see: a return, error(), os.exit(n), SIGINT after `duration`, a
kill after the grace period, the hard `timeout`, the OOM killer, Ctrl-C.
"""

from __future__ import annotations

import fnmatch
import json
import os
import secrets
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import docker
from ljprof import __version__, docker_engine
from ljprof.container import CONFIG_DIR, HARNESS_DIR, OUT_DIR, PROFILERS_MOUNT, TARGET_DIR, TMPFS
from ljprof.docker_engine import LABEL_OWNER
from ljprof.errors import LjprofError
from ljprof.image.plan import LABEL_MANAGED, PACKAGE_ROOT
from ljprof.profilers import PROFILERS, PROFILERS_DIR
from ljprof.run import services as run_services
from ljprof.run.plan import (
    RunPlan,
    options_file_text,
    redact,
    redacted_profile,
)

LABEL_RUN = "org.ljprof.run"
LABEL_PROFILE = "org.ljprof.profile"
POLL_SECONDS = 0.05
FIXED_OUTPUTS = {
    "stdout.log": "target stdout (secrets masked)",
    "stderr.log": "target stderr (secrets masked)",
    "harness.tsv": "ljprof harness: profiler switches, marks, how the target ended",
}


class RunCancelled(LjprofError):
    """Ctrl-C during a run: the target was stopped and what it left was kept."""

    exit_code = 130


@dataclass
class Supervision:
    """What the runner did to the container and when (seconds since the target started)."""

    signals: list[dict[str, Any]] = field(default_factory=list)
    stopped_by: str = ""  # "duration" | "timeout" | "cancel" | ""
    timed_out: bool = False
    cancelled: bool = False

    def send(self, c: Any, sig: str, at: float, reason: str) -> None:
        if docker_engine.send_signal(c, sig):
            self.signals.append({"signal": sig, "after_s": round(at, 3), "reason": reason})


def new_run_id(now: datetime) -> str:
    """Sorts by time; only [0-9A-Za-z-], which GitHub artifact names accept."""
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def make_run_dir(reports: Path, profile: str) -> tuple[str, Path]:
    """A new, empty run directory; never one that exists."""
    parent = reports / profile
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        run_id = new_run_id(datetime.now(timezone.utc))
        run_dir = parent / run_id
        try:
            run_dir.mkdir()  # exclusive: two runs at once get two directories
        except FileExistsError:
            continue
        (run_dir / "raw").mkdir()
        return run_id, run_dir


def point_latest(reports: Path, profile: str, run_id: str) -> None:
    """reports/<profile>/latest -> <run-id>, replaced atomically."""
    link = reports / profile / "latest"
    tmp = reports / profile / f".latest-{secrets.token_hex(4)}"
    tmp.symlink_to(run_id)
    os.replace(tmp, link)


def supervise(c: Any, plan: RunPlan, started: float, watch: Callable[[], None] = lambda: None,
              tick: Callable[[float], None] | None = None) -> Supervision:
    """Wait for the target; SIGINT at `duration`, SIGTERM and SIGKILL a grace period apart, SIGKILL at `timeout`.

    `watch` is called on every poll (the services note when one of them dies), and `tick(elapsed)` too
    (the console's live status)."""
    profile = plan.profile
    sup = Supervision()
    next_step: float | None = profile.duration
    steps = ["SIGINT", "SIGTERM", "SIGKILL"]
    try:
        while docker_engine.container_state(c)["Status"] in ("created", "running"):
            elapsed = time.monotonic() - started
            if elapsed >= profile.timeout:
                sup.timed_out = True
                sup.stopped_by = "timeout"
                sup.send(c, "SIGKILL", elapsed, "timeout")
                break
            if next_step is not None and elapsed >= next_step and steps:
                sig = steps.pop(0)
                sup.stopped_by = sup.stopped_by or "duration"
                sup.send(c, sig, elapsed, "duration" if sig == "SIGINT" else "grace period over")
                next_step = elapsed + profile.grace if steps else None
            watch()
            if tick is not None:
                tick(elapsed)
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        # Ctrl-C: stop the target as `duration` would, keep what it wrote.
        sup.cancelled = True
        sup.stopped_by = "cancel"
        for sig in ("SIGINT", "SIGKILL"):
            sup.send(c, sig, time.monotonic() - started, "cancelled (Ctrl-C)")
            deadline = time.monotonic() + profile.grace
            while time.monotonic() < deadline and docker_engine.container_state(c)["Status"] == "running":
                time.sleep(POLL_SECONDS)
    # wait until the engine has the final state (a kill is asynchronous)
    while docker_engine.container_state(c)["Status"] in ("created", "running"):
        time.sleep(POLL_SECONDS)
    return sup


def parse_harness_log(path: Path) -> dict[str, Any]:
    """harness.tsv -> {events: [...], end: {how, code, message} | None}."""
    events: list[dict[str, Any]] = []
    end = None
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t", 2)
            if len(parts) != 3:
                continue
            event, t, detail = parts
            events.append({"event": event, "t": float(t), "detail": detail})
            if event == "end":
                how, _, rest = detail.partition(" ")
                code, _, message = rest.partition(" ")
                end = {"how": how, "code": int(code) if code.lstrip("-").isdigit() else None, "message": message}
    return {"events": events, "end": end}


def describe_ending(state: dict[str, Any], sup: Supervision, harness: dict[str, Any],
                    expected: tuple[int, ...] = (0,), memory_limit: int | None = None) -> dict[str, Any]:
    """How the target ended, from the engine's state, what we sent, and the harness's own word;
    `ok` says whether that counts as success for the profile, `message` says it in words."""
    exit_code = int(state.get("ExitCode", -1))
    end = harness["end"]
    ending: dict[str, Any] = {
        "exit_code": exit_code,
        "oom_killed": bool(state.get("OOMKilled")),
        "timed_out": sup.timed_out,
        "cancelled": sup.cancelled,
        "stopped_by": sup.stopped_by or None,
        "signals_sent": sup.signals,
        "harness": end,
        "signal": None,
    }
    if ending["oom_killed"]:
        kind = "oom"
    elif sup.timed_out:
        kind = "timeout"
    elif end is not None:
        kind = end["how"]  # return | exit | error | interrupted
    elif exit_code > 128:
        kind = "signal"
        number = exit_code - 128
        ending["signal"] = signal.Signals(number).name if number in signal.valid_signals() else f"signal {number}"
    else:
        kind = "unknown"
    ending["kind"] = kind
    ending["ok"], ending["message"] = _judge(kind, ending, sup, expected, memory_limit)
    return ending


def _judge(kind: str, ending: dict[str, Any], sup: Supervision, expected: tuple[int, ...],
           memory_limit: int | None) -> tuple[bool, str]:
    """Whether an ending counts as success, and why, in words."""
    end = ending["harness"] or {}
    wanted = ", ".join(map(str, expected))
    sent = {s["signal"] for s in sup.signals}
    if kind == "return":
        return 0 in expected, "the script returned" + ("" if 0 in expected else f" (exit code 0; expected {wanted})")
    if kind == "exit":
        code = end.get("code")
        if code in expected:
            return True, f"os.exit({code})"
        return False, f"os.exit({code}): exit code {code} is not one the profile expects ({wanted})"
    if kind == "error":
        return False, str(end.get("message") or "the script raised an error")
    if kind == "interrupted":
        if sup.stopped_by == "duration":
            return True, "stopped by SIGINT at the profile's duration, as planned (luajit then exits with code 1)"
        return False, "interrupted by a SIGINT that ljprof did not send"
    if kind == "signal":
        if ending["signal"] in sent and sup.stopped_by == "duration":
            return True, (f"ignored SIGINT at the duration and was stopped by {ending['signal']} after the grace "
                          "period (profiler files may be cut)")
        return False, f"crashed: killed by {ending['signal']}"
    if kind == "oom":
        at = f" ({memory_limit / 1024**2:g} MiB)" if memory_limit else ""
        return False, f"killed by the OOM killer at the memory limit{at}"
    if kind == "timeout":
        return False, "killed at the profile's timeout"
    return False, f"ended with exit code {ending['exit_code']} before the harness could say how"


SOURCES_LIMIT = 8 * 1024 * 1024  # bytes of Lua source kept with a run, at most


IMAGE_SOURCES = "image-sources.bundle"  # written by the harness: Lua modules the target loaded from the image


def unpack_image_sources(bundle: Path, dest: Path, budget: int) -> int:
    """Unpack the harness's bundle ("path<TAB>size<LF>" + bytes, per file) into dest/<path without '/'>.

    Read leniently: a bundle cut by a kill keeps the files before the cut. Returns bytes kept."""
    if not bundle.is_file():
        return 0
    kept = 0
    data = bundle.read_bytes()
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        name, _, size_text = data[pos:nl].decode("utf-8", "replace").rpartition("\t")
        if not size_text.isdigit():
            break
        size = int(size_text)
        body = data[nl + 1:nl + 1 + size]
        pos = nl + 1 + size
        rel = Path(name.lstrip("/"))
        if len(body) < size or kept + size > budget or not name.startswith("/") or ".." in rel.parts:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        kept += size
    bundle.unlink()
    return kept


def keep_sources(workdir: Path, dest: Path) -> int:
    """Copy the target's Lua files into the run directory, so reports can show source lines
    from the run directory alone (the target may change or be gone by then). Returns bytes kept."""
    kept = 0
    for path in sorted(workdir.rglob("*.lua")):
        if not path.is_file() or path.is_symlink():
            continue
        size = path.stat().st_size
        if kept + size > SOURCES_LIMIT:
            break
        target = dest / path.relative_to(workdir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        kept += size
    return kept


def describe_files(run_dir: Path) -> list[dict[str, Any]]:
    producers = dict(FIXED_OUTPUTS)
    for profiler in PROFILERS.values():
        producers.update({name: f"{profiler.name}: {what}" for name, what in profiler.outputs().items()})
    files = []
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file() and p.name != "manifest.json"):
        rel = path.relative_to(run_dir).as_posix()
        if rel.startswith("sources/"):
            producer = "a Lua source the run used, kept for reports"
        elif rel.startswith("services/"):
            name, _, rest = rel.removeprefix("services/").partition("/")
            producer = (f"service {name.removesuffix('.log')}: its output (secrets masked)" if not rest
                        else f"service {name}: written by it")
        else:
            producer = producers.get(path.name) or next(
                (what for name, what in producers.items() if "*" in name and fnmatch.fnmatchcase(path.name, name)),
                "the target (written to its output folder)")
        files.append({"path": rel, "size": path.stat().st_size, "producer": producer})
    return files


def write_json_atomically(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Write through a temporary file and a rename; return the data as read back (lists, not tuples)."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return dict(json.loads(text))


def take_back(folder: Path) -> None:
    """Give a folder the run user wrote back to the user running ljprof."""
    uid, gid = os.getuid(), os.getgid()
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


@contextmanager
def _services_started(client: docker.DockerClient, plan: RunPlan, run_dir: Path, owner: dict[str, str],
                      secrets_list: list[str]) -> Iterator[run_services.Services]:
    """The profile's services, each ready before the next starts; all stopped on every way out.

    Ctrl-C while they start ends the run before the target starts."""
    services = run_services.Services(client, run_dir, plan.user, owner, secrets_list)
    try:
        try:
            for service in plan.services:
                services.wait_ready(services.start(service))
        except KeyboardInterrupt:
            raise RunCancelled(f"cancelled while the services started; the target was not started (their logs "
                               f"are in {run_dir / 'services'})") from None
        yield services
    finally:
        services.stop_all()


@dataclass(frozen=True)
class RunResult:
    run_id: str
    run_dir: Path
    manifest: dict[str, Any]


def run(client: docker.DockerClient, plan: RunPlan, image: dict[str, Any], reports: Path,
        prepare_started: float, status: Callable[[Path, float], None] | None = None) -> RunResult:
    """Run the plan's target in a container and leave a complete run directory; `status(raw, elapsed)` is
    called while the target runs (the console's live status reads raw/ as the profilers write it)."""
    profile = plan.profile
    run_id, run_dir = make_run_dir(reports, profile.name)
    raw = run_dir / "raw"
    started_at = datetime.now(timezone.utc)
    secrets_list = plan.secret_values()
    run_uid, run_gid = (int(x) for x in plan.user.split(":"))
    hand_over = os.geteuid() == 0 and run_uid != 0
    if hand_over:  # root on the host: the unprivileged run user writes raw/, and we take it back afterwards
        os.chown(raw, run_uid, run_gid)
    owner = {LABEL_RUN: run_id, LABEL_PROFILE: profile.name, LABEL_OWNER: f"{socket.gethostname()}:{os.getpid()}"}
    try:
        with tempfile.TemporaryDirectory(prefix="ljprof-run-") as config_dir, \
                _services_started(client, plan, run_dir, owner, secrets_list) as services:
            os.chmod(config_dir, 0o755)  # readable by the unprivileged run user
            options = Path(config_dir, "options.lua")
            options.write_text(options_file_text(plan), encoding="utf-8")
            options.chmod(0o644)
            spec = docker_engine.ContainerSpec(
                image=plan.image_tag,
                command=plan.command,
                user=plan.user,
                working_dir=plan.working_dir,
                environment={**plan.environment, **services.env()},
                mounts=[(str(profile.workdir), TARGET_DIR), (str(PACKAGE_ROOT / "harness"), HARNESS_DIR),
                        (str(PROFILERS_DIR), PROFILERS_MOUNT), (config_dir, CONFIG_DIR)],
                # Results go straight to the host: no copy after the run, nothing lost if the engine
                # or ljprof dies, and a GB-sized profile costs no second copy on disk.
                writable=[(str(raw.resolve()), OUT_DIR)],
                tmpfs=list(TMPFS),
                network=None if profile.network == "default" else profile.network,
                memory=profile.limits.memory,
                cpus=profile.limits.cpus,
                pids=profile.limits.pids,
                labels={LABEL_MANAGED: "true", **owner},
            )
            with docker_engine.started(client, spec) as c:
                target_started = time.monotonic()
                services.target_started = target_started
                sup = supervise(c, plan, target_started, services.watch,
                                (lambda t: status(raw, t)) if status else None)
                target_ended = time.monotonic()
                state = docker_engine.container_state(c)
                docker_engine.save_logs(c, raw / "stdout.log", raw / "stderr.log",
                                        lambda line: redact(line, secrets_list))
            services.stop_all()  # after the target, before the files are listed
    finally:
        if hand_over:
            take_back(raw)
            if (run_dir / "services").is_dir():
                take_back(run_dir / "services")
    kept = keep_sources(profile.workdir, run_dir / "sources")
    unpack_image_sources(raw / IMAGE_SOURCES, run_dir / "sources", SOURCES_LIMIT - kept)
    harness = parse_harness_log(raw / "harness.tsv")
    ended_at = datetime.now(timezone.utc)
    manifest: dict[str, Any] = {
        "ljprof_version": __version__,
        "run_id": run_id,
        "profile": profile.name,
        "config": redacted_profile(profile),
        "image": image,
        "command": ["luajit", profile.script, *profile.args],
        "cwd": profile.cwd,
        "started": started_at.isoformat(timespec="milliseconds"),
        "ended": ended_at.isoformat(timespec="milliseconds"),
        "ending": describe_ending(state, sup, harness, profile.exit_codes, profile.limits.memory),
        "timeline": harness["events"],
        "profilers": {name: PROFILERS[name].assess(raw) for name in sorted(profile.profilers)},
        "services": services.records(),
        "files": describe_files(run_dir),
        "timings": {
            "prepare_s": round(target_started - prepare_started, 3),
            "target_s": round(target_ended - target_started, 3),
            "collect_s": round(time.monotonic() - target_ended, 3),
        },
    }
    manifest = write_json_atomically(run_dir / "manifest.json", manifest)
    point_latest(reports, profile.name, run_id)
    if sup.cancelled:
        raise RunCancelled(f"cancelled; the target was stopped and its files kept in {run_dir}")
    return RunResult(run_id, run_dir, manifest)
