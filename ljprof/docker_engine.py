"""The only module that talks to Docker.

It owns the whole life of what it creates: builds remove their intermediate
containers even when a step fails, containers it runs are removed on every
way out (including Ctrl-C), and everything carries the `org.ljprof.managed`
label so that leftovers can be found.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar, cast

import docker.errors
from docker.models.images import Image

import docker
from ljprof.errors import BuildFailed, DockerUnavailable
from ljprof.image.context import write_context_tar
from ljprof.image.failures import fetch_hint
from ljprof.image.plan import LABEL_MANAGED, BuildPlan

LABEL_OWNER = "org.ljprof.owner"  # host:pid of the ljprof process that runs a container

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
# The classic builder wraps a step's stderr in colour codes and ends a step
# with its own clean-up line; neither belongs in the log or in a failure's tail.
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_CLEANUP = re.compile(r"^Removing intermediate container [0-9a-f]+$")
TAIL_LINES = 40


@dataclass(frozen=True)
class BuildStep:
    index: int
    total: int
    instruction: str


class BuildListener:
    """What a build reports as it goes; the console display implements it."""

    def step(self, step: BuildStep) -> None:
        """A new Dockerfile step started."""

    def line(self, text: str) -> None:
        """A line of output from the current step."""


_F = TypeVar("_F", bound=Callable[..., Any])


def _engine_errors(fn: _F) -> _F:
    """Turn the SDK's exceptions into DockerUnavailable with the engine's explanation."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except docker.errors.APIError as exc:
            raise DockerUnavailable(f"the Docker engine refused {fn.__name__}: {reason(exc)}") from None
        except docker.errors.DockerException as exc:
            raise DockerUnavailable(f"Docker failed in {fn.__name__}: {reason(exc)}") from None

    return cast(_F, wrapper)


def reason(exc: BaseException) -> str:
    """The engine's or the system's own words for a failure, as text a person reads.

    The SDK's messages carry Python's reprs (`('Connection aborted.',
    FileNotFoundError(2, ...))`) and, when the engine answers with something
    other than JSON, a byte string (`b'...'`): take the engine's explanation,
    decoded, else the operating system's error at the bottom of the chain.
    """
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        explanation = exc.explanation
        text = explanation.decode("utf-8", "replace") if isinstance(explanation, bytes) else str(explanation)
        return " ".join(text.split())
    root: BaseException = exc
    seen = {id(exc)}
    while True:
        below = root.__cause__ or root.__context__ or next(
            (a for a in root.args if isinstance(a, BaseException)), None)
        if below is None or id(below) in seen:
            break
        seen.add(id(below))
        root = below
    if isinstance(root, OSError) and root.strerror:
        return root.strerror
    return " ".join(str(root).split()) or type(root).__name__


def _engine_address(environ: Mapping[str, str]) -> str:
    return environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def unreachable_message(exc: BaseException, environ: Mapping[str, str]) -> str:
    """Why the engine cannot be reached, in words, with what to do."""
    address = _engine_address(environ)
    why = reason(exc)
    socket_path = address.removeprefix("unix://") if address.startswith("unix://") else ""
    hint = ("start it (e.g. `sudo systemctl start docker`, or `dockerd &`), or point DOCKER_HOST at a running "
            "engine")
    if socket_path and why == "No such file or directory":
        why = f"there is no socket {socket_path} (the engine is not running there)"
    elif why == "Connection refused":
        why = f"nothing accepts connections at {address} (connection refused)"
    elif why == "Permission denied":
        why = f"permission denied on {socket_path or address}"
        hint = "add your user to the `docker` group (then log in again), or run as a user who may use Docker"
    else:
        why = f"{address}: {why}"
    return f"cannot reach the Docker engine: {why}\n  hint: {hint}"


def connect() -> docker.DockerClient:
    """A client for the engine the environment points at (DOCKER_HOST or the default socket)."""
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        raise DockerUnavailable(unreachable_message(exc, os.environ)) from None
    return client


@_engine_errors
def find_image(client: docker.DockerClient, tag: str) -> Image | None:
    """The image with this tag, or None."""
    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


@_engine_errors
def build_image(
    client: docker.DockerClient, plan: BuildPlan, listener: BuildListener, log: IO[str]
) -> str:
    """Build the plan's image with the classic builder; return its id.

    The whole output goes to `log`; on failure BuildFailed names the failing
    step and carries the tail of that step's output.
    """
    step: BuildStep | None = None
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    image_id = ""
    pending = ""  # the engine splits its output anywhere, even inside a line: lines end at a newline

    def take(line: str) -> None:
        nonlocal step
        line = _COLOUR.sub("", line).rstrip()
        log.write(line + "\n")
        match = _STEP.match(line)
        if match:
            step = BuildStep(int(match[1]), int(match[2]), match[3])
            tail.clear()
            listener.step(step)
        elif line and not _CLEANUP.match(line):
            tail.append(line)
            listener.line(line)

    with tempfile.TemporaryFile() as context:
        write_context_tar(plan, context)
        context.seek(0)
        stream = client.api.build(
            fileobj=context,
            custom_context=True,
            tag=plan.tag,
            buildargs=plan.build_args,
            network_mode=plan.network,
            rm=True,
            forcerm=True,  # remove intermediate containers after a failed step too
            pull=False,
            decode=True,
        )
        try:
            for event in _events(stream):
                if "error" in event:
                    if pending:
                        take(pending)
                        pending = ""
                    message = str(event["error"]).strip()
                    log.write(f"ERROR: {message}\n")
                    where = f"step {step.index}/{step.total}: {step.instruction}" if step else "before the first step"
                    output = (f"\n--- last {len(tail)} lines of that step's output ---\n" + "\n".join(tail)
                              if tail else "")
                    hint = fetch_hint(step.instruction if step else "", [message, *tail])
                    raise BuildFailed(f"the image build failed at {where}\n{message}{output}"
                                      + (f"\n{hint}" if hint else ""))
                if "aux" in event and isinstance(event["aux"], dict) and "ID" in event["aux"]:
                    image_id = event["aux"]["ID"]
                if event.get("stream"):
                    *lines, pending = (pending + str(event["stream"])).split("\n")
                    for line in lines:
                        take(line)
                elif event.get("status"):  # a whole line each (pull progress)
                    take(str(event["status"]))
            if pending:
                take(pending)
        finally:
            log.flush()
    if not image_id:
        image = find_image(client, plan.tag)
        if image is None:
            raise BuildFailed(f"the build ended without an image tagged {plan.tag}")
        image_id = str(image.id)
    return image_id


def _events(stream: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    try:
        yield from stream
    except docker.errors.APIError as exc:
        raise BuildFailed(f"the Docker engine refused the build: {reason(exc)}") from None


@contextmanager
def container(client: docker.DockerClient, image: str, command: list[str], **kwargs: Any) -> Iterator[Any]:
    """A created (not started) container, labelled, removed on every way out."""
    labels = {LABEL_MANAGED: "true", **kwargs.pop("labels", {})}
    created = client.containers.create(image, command, labels=labels, **kwargs)
    try:
        yield created
    finally:
        with contextlib.suppress(docker.errors.NotFound):  # already gone: nothing left behind
            created.remove(force=True)


@dataclass(frozen=True)
class ContainerSpec:
    """A container for one run of a target."""

    image: str
    command: list[str]
    user: str
    working_dir: str
    environment: dict[str, str] = field(repr=False)
    mounts: list[tuple[str, str]]  # (host path, container path), read-only
    writable: list[tuple[str, str]]  # (host path, container path), read-write: where results go
    tmpfs: list[str]  # in-memory writable folders (the root filesystem is read-only)
    network: str | None  # None: Docker's default
    memory: int | None
    cpus: float | None
    pids: int | None
    labels: dict[str, str]


@contextmanager
def started(client: docker.DockerClient, spec: ContainerSpec) -> Iterator[Any]:
    """A running container for `spec` (with an init process, so SIGINT reaches the target), always removed."""
    try:
        kwargs: dict[str, Any] = {
            "user": spec.user,
            "working_dir": spec.working_dir,
            "environment": spec.environment,
            "volumes": {**{host: {"bind": inside, "mode": "ro"} for host, inside in spec.mounts},
                        **{host: {"bind": inside, "mode": "rw"} for host, inside in spec.writable}},
            # Nothing but the results folder and the tmpfs folders is writable, so a run
            # leaves nothing in the container that a report would miss.
            "read_only": True,
            "tmpfs": {path: "rw,nosuid,nodev,mode=1777" for path in spec.tmpfs},
            "init": True,  # PID 1 ignores SIGINT; docker-init forwards it to luajit
            "labels": spec.labels,
            "stdin_open": False,
            "tty": False,
        }
        if spec.network is not None:
            kwargs["network_mode"] = spec.network
        if spec.memory is not None:
            kwargs["mem_limit"] = spec.memory
            kwargs["memswap_limit"] = spec.memory  # no swap: over the limit means the OOM killer
        if spec.cpus is not None:
            kwargs["nano_cpus"] = int(spec.cpus * 1e9)
        if spec.pids is not None:
            kwargs["pids_limit"] = spec.pids
        with container(client, spec.image, spec.command, **kwargs) as c:
            c.start()
            yield c
    except docker.errors.APIError as exc:
        raise DockerUnavailable(f"the Docker engine refused the run: {reason(exc)}") from None


def start_service(client: docker.DockerClient, image: str, command: list[str], env: dict[str, str], user: str,
                  folder: tuple[str, str], labels: dict[str, str]) -> Any:
    """A service's container, started on the host's network (its port is on the host's 127.0.0.1)."""
    try:
        c = client.containers.create(image, command, environment=env, user=user, network_mode="host",
                                     volumes={folder[0]: {"bind": folder[1], "mode": "rw"}}, labels=labels,
                                     init=True, stdin_open=False, tty=False)
    except docker.errors.ImageNotFound:
        raise DockerUnavailable(f"the service's image {image} is not here\n  hint: docker pull {image}, "
                                "or build it") from None
    except docker.errors.APIError as exc:
        raise DockerUnavailable(f"the Docker engine refused the service: {reason(exc)}") from None
    try:
        c.start()
    except docker.errors.APIError as exc:
        c.remove(force=True)
        raise DockerUnavailable(f"the Docker engine refused the service: {reason(exc)}") from None
    return c


def stop_service(c: Any, log: Path, grace: float) -> None:
    """Stop a service's container (SIGTERM, SIGKILL after `grace`), keep its output in `log`, remove it."""
    try:
        with contextlib.suppress(docker.errors.APIError):
            c.stop(timeout=max(1, int(grace)))
        with contextlib.suppress(docker.errors.APIError):
            log.write_bytes(c.logs(stdout=True, stderr=True))
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            c.remove(force=True)


@_engine_errors
def container_state(c: Any) -> dict[str, Any]:
    """The container's State (Status, ExitCode, OOMKilled, ...), fresh from the engine."""
    c.reload()
    return dict(c.attrs["State"])


@_engine_errors
def send_signal(c: Any, signal: str) -> bool:
    """Signal the container's init (which passes it on); False when it is not running any more."""
    try:
        c.kill(signal=signal)
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # not running
            return False
        raise
    return True


@_engine_errors
def save_logs(c: Any, stdout_path: Path, stderr_path: Path, clean: Callable[[str], str]) -> None:
    """The target's stdout and stderr, each to its file, line by line through `clean`."""
    for path, which in ((stdout_path, {"stdout": True, "stderr": False}), (stderr_path, {"stdout": False,
                                                                                        "stderr": True})):
        pending = b""
        with path.open("w", encoding="utf-8", errors="replace") as f:
            for chunk in c.logs(stream=True, follow=False, **which):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    f.write(clean(line.decode("utf-8", "replace")) + "\n")
            if pending:
                f.write(clean(pending.decode("utf-8", "replace")))


@_engine_errors
def run_command(client: docker.DockerClient, image: str, command: list[str], timeout: float = 120) -> tuple[int, str]:
    """Run a short command in a fresh container without network; (exit code, output)."""
    with container(client, image, command, network_mode="none") as c:
        c.start()
        result = c.wait(timeout=timeout)
        output = c.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    return int(result.get("StatusCode", -1)), output


@_engine_errors
def managed_images(client: docker.DockerClient) -> list[Image]:
    """ljprof's images, by their first tag."""
    return sorted(client.images.list(filters={"label": f"{LABEL_MANAGED}=true"}), key=image_name)


def image_name(image: Image) -> str:
    return image.tags[0] if image.tags else str(image.id)


@_engine_errors
def import_rootfs(client: docker.DockerClient, tar_path: Path, tag: str) -> str:
    """`docker import` a root filesystem tarball; return the image id."""
    repository, _, version = tag.rpartition(":") if ":" in tag.split("/")[-1] else (tag, "", "latest")
    # From a file, not import_image_from_stream: the SDK sends a stream chunked,
    # which engine 20.10 rejects ("invalid byte in chunk length"); a file goes
    # with a Content-Length.
    result = client.api.import_image_from_file(str(tar_path), repository=repository, tag=version)
    match = re.search(r"sha256:[0-9a-f]{64}", str(result))
    image = find_image(client, tag)
    if image is None:
        raise DockerUnavailable(f"docker import did not produce {tag}: {result}")
    return match[0] if match else str(image.id)


def _owner_alive(owner: str) -> bool:
    """Whether the ljprof process named by a container's owner label (host:pid) still runs here."""
    host, _, pid = owner.rpartition(":")
    if not host or not pid.isdigit():
        return False  # no owner recorded: a leftover
    if host != socket.gethostname():
        return True  # another machine's run (a shared engine): leave it alone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@_engine_errors
def remove_managed(client: docker.DockerClient, images: bool) -> tuple[list[str], list[str]]:
    """Remove ljprof's leftover containers (and, if asked, its images)."""
    removed_containers = []
    # a run that ends meanwhile removes its own containers: gone between the list and the inspect
    # (ignore_removed) or before the remove, they are no leftovers
    for c in client.containers.list(all=True, filters={"label": f"{LABEL_MANAGED}=true"}, ignore_removed=True):
        if c.status == "running" and _owner_alive(c.labels.get(LABEL_OWNER, "")):
            continue  # a run in progress: its own ljprof process removes it
        try:
            c.remove(force=True)
        except docker.errors.NotFound:
            continue
        removed_containers.append(str(c.name))
    removed_images = []
    if images:
        for image in managed_images(client):
            for tag in image.tags or [str(image.id)]:
                client.images.remove(tag, force=True)
                removed_images.append(tag)
    return removed_containers, removed_images


