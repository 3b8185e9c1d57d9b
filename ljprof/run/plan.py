"""Plan one run: profile + image facts + host environment -> what the container gets.

Pure: nothing here starts a container, so every decision (command, mounts,
limits, secrets, what the harness switches on) is testable without Docker.
Secret values live only in `RunPlan.secret_env`, which never reaches a
manifest, a log or a repr.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ljprof.config.model import EnvVar, Profile, Service
from ljprof.container import CONFIG_DIR, HARNESS_DIR, HOME_DIR, OUT_DIR, PROFILERS_MOUNT, TARGET_DIR
from ljprof.errors import ConfigError
from ljprof.profilers import PROFILERS, PROFILERS_DIR, harness_lua

RUN_UID = 10001  # runs targets when the task runs as root; never root inside
SECRET_MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values are not masked in logs (they would mask ordinary text)


@dataclass(frozen=True)
class ServicePlan:
    """A service with its environment resolved; secrets apart, as in RunPlan."""

    service: Service
    env: dict[str, str]
    secret_env: dict[str, str] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class RunPlan:
    profile: Profile
    image_tag: str
    command: list[str]
    working_dir: str  # where the target runs: TARGET_DIR or its `cwd` inside it
    env: dict[str, str]
    user: str
    harness_options: dict[str, Any]
    secret_env: dict[str, str] = field(repr=False, default_factory=dict)
    services: tuple[ServicePlan, ...] = ()

    @property
    def environment(self) -> dict[str, str]:
        """What the container's environment gets, secrets included: for the engine only."""
        return {**self.env, **self.secret_env}

    def secret_values(self) -> list[str]:
        """Every secret of the run, the target's and its services', as logs must not show them."""
        values = {*self.secret_env.values(), *(v for s in self.services for v in s.secret_env.values())}
        return sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def check_image(profile: Profile, facts: Mapping[str, Any], tag: str) -> None:
    """Refuse, before any run, a profiler that this image cannot run."""
    problems = []
    for name in profile.profilers:
        problem = PROFILERS[name].image_problem(facts, profile.profilers[name])
        if problem:
            problems.append(f"profiles.{profile.name}.profilers.{name}: {tag} cannot run it: {problem}")
    if problems:
        raise ConfigError("\n".join(problems) + "\n  hint: choose another image recipe with --image or LJPROF_IMAGE, "
                          "or remove the profiler from the profile")


def plan_run(profile: Profile, image_tag: str, environ: Mapping[str, str], host_uid: int | None = None) -> RunPlan:
    uid = os.getuid() if host_uid is None else host_uid
    working_dir = TARGET_DIR if profile.cwd == "." else f"{TARGET_DIR}/{profile.cwd}"
    # What a shell would have set: the target's folder, and a HOME it can write to.
    env: dict[str, str] = {"PWD": working_dir, "HOME": HOME_DIR}
    secrets = resolve_env(profile.env, environ, env, f"profiles.{profile.name}.env")
    services = []
    for service in profile.services:
        service_env: dict[str, str] = {}
        service_secrets = resolve_env(service.env, environ, service_env,
                                      f"profiles.{profile.name}.services.{service.name}.env")
        services.append(ServicePlan(service, service_env, service_secrets))
    harness = {
        "out": OUT_DIR,
        "profilers": {name: harness_options(name, opts) for name, opts in sorted(profile.profilers.items())},
    }
    return RunPlan(
        profile=profile,
        image_tag=image_tag,
        command=["luajit", f"{HARNESS_DIR}/run.lua", f"{CONFIG_DIR}/options.lua", profile.script, *profile.args],
        working_dir=working_dir,
        env=env,
        # As the user who ran the task, so the target reads what that user can;
        # root on the host becomes an unprivileged user inside.
        user=f"{RUN_UID}:{RUN_UID}" if uid == 0 else f"{uid}:{os.getgid() if host_uid is None else uid}",
        harness_options=harness,
        secret_env=secrets,
        services=tuple(services),
    )


def resolve_env(variables: tuple[EnvVar, ...], environ: Mapping[str, str], plain: dict[str, str],
                where: str) -> dict[str, str]:
    """Put literal values in `plain`; return the secrets, read from the host (or their default)."""
    secrets: dict[str, str] = {}
    for var in variables:
        if not var.is_secret:
            plain[var.name] = var.value
        elif var.secret_from in environ:
            secrets[var.name] = environ[var.secret_from]
        elif var.default is not None:
            secrets[var.name] = var.default
        else:
            raise ConfigError(
                f"{where}.{var.name}: the secret comes from the host variable "
                f"{var.secret_from}, which is not set\n  hint: export {var.secret_from}=... before the run "
                "(its value is passed to the target and written nowhere)")
    return secrets


def harness_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """What the harness gets for one profiler: its options, and its harness.lua inside the container."""
    opts = PROFILERS[name].harness_options(options)
    lua = harness_lua(name)
    if lua is not None:
        opts["harness"] = f"{PROFILERS_MOUNT}/{lua.relative_to(PROFILERS_DIR).as_posix()}"
    return opts


def redacted_profile(profile: Profile) -> dict[str, Any]:
    """The resolved profile for the manifest: secrets are named, never valued."""
    data = asdict(profile)
    data["workdir"] = str(profile.workdir)
    data["env"] = redacted_env(profile.env)
    data["services"] = [{**asdict(s), "cwd": str(s.cwd) if s.cwd else None, "env": redacted_env(s.env)}
                        for s in profile.services]
    return data


def redacted_env(variables: tuple[EnvVar, ...]) -> dict[str, str]:
    return {v.name: (f"<secret from ${v.secret_from}>" if v.is_secret else v.value) for v in variables}


def lua_literal(value: Any) -> str:
    """A Lua expression for plain data (the harness options file)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        escaped = "".join(chr(b) if b < 128 and (chr(b).isalnum() or chr(b) in " ._-/:") else f"\\{b:03d}"
                          for b in value.encode("utf-8"))
        return f'"{escaped}"'
    if isinstance(value, Mapping):
        items = ", ".join(f"[{lua_literal(str(k))}] = {lua_literal(v)}" for k, v in sorted(value.items()))
        return "{" + items + "}"
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def options_file_text(plan: RunPlan) -> str:
    return "-- written by ljprof.run.runner for one run\nreturn " + lua_literal(plan.harness_options) + "\n"


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, SECRET_MASK)
    return text

