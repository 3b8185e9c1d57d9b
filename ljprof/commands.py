"""What each task does, as plain functions that return or raise.

`tasks.py` only maps options onto these and turns LjprofError into an exit
status. Human output goes to the `out` stream the caller passes in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO, TypeVar

from ljprof import budgets as budget_checks
from ljprof import docker_engine
from ljprof.compare import output as compare_output
from ljprof.compare.diff import compare as compare_runs
from ljprof.compare.flamediff import FlameDiff
from ljprof.compare.runs import Run, resolve, resolve_pair
from ljprof.config.loader import load_config
from ljprof.config.model import Budget, Config, ImageRecipe, LoomSource, LuajitSource, Profile
from ljprof.config.yamlcheck import suggest
from ljprof.console import BuildDisplay, RunStatus
from ljprof.errors import ConfigError, DockerUnavailable, TargetFailed, ToolFailed
from ljprof.image.context import write_context_dir
from ljprof.image.plan import (
    LABEL_HASH,
    LABEL_RECIPE,
    OVERRIDE_NAMES,
    PACKAGE_ROOT,
    BuildPlan,
    Override,
    Overrides,
    apply_overrides,
    collect_overrides,
    plan_build,
)
from ljprof.profilers.memprof import parse_file
from ljprof.profilers.memprof.report_html import MemprofHtmlReport
from ljprof.profilers.memprof.report_json import MemprofJsonReport
from ljprof.profilers.memprof.report_text import MemprofTextReport
from ljprof.reporting.model import SourceLines
from ljprof.reporting.overview import OverviewPage
from ljprof.reporting.render import Rendered, render_run, write_atomically
from ljprof.reporting.runfacts import service_lines
from ljprof.reporting.summary import SummaryJson
from ljprof.reporting.units import human_bytes
from ljprof.run import runner
from ljprof.run.plan import check_image, plan_run
from ljprof.run.runner import RunResult


def _state_dir() -> Path:
    """Where build logs and cached image facts go: .ljprof/ in a clone (git-ignored), else (an installed
    wheel) the user's cache folder, never site-packages."""
    clone = PACKAGE_ROOT.parent
    if (clone / "pyproject.toml").is_file():
        return clone / ".ljprof"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ljprof"


STATE_DIR = _state_dir()
IMAGE_INFO_PATH = "/usr/share/ljprof/image.json"


def check(config_path: str | Path, out: TextIO, environ: Mapping[str, str] | None = None) -> Config:
    """Validate profiles.yml and say what it defines, as the overrides in force (LJPROF_*) resolve it;
    warn about secrets whose host variable is unset (the run would refuse to start)."""
    environ = {} if environ is None else environ
    config = load_config(config_path)
    overrides = collect_overrides(environ, {})
    forced = environ.get("LJPROF_IMAGE")
    if forced:
        select_recipe(config, forced)
    out.write(f"{config_path}: valid; {len(config.images)} image recipe(s), {len(config.profiles)} profile(s)\n")
    for line in ([f"image = {forced} (from LJPROF_IMAGE)"] if forced else []) + overrides.describe():
        out.write(f"  override  {mask_url_credentials(line)}\n")
    for recipe in config.images.values():
        described = describe_recipe(apply_overrides(recipe, overrides))
        out.write(f"  image {recipe.name}: {mask_url_credentials(described)}\n")
    for p in config.profiles.values():
        image = f"{forced} (LJPROF_IMAGE; the profile says {p.image})" if forced and forced != p.image else p.image
        out.write(f"  profile {p.name}: luajit {' '.join([p.script, *p.args])} in {p.workdir} on image {image}; "
                  f"profilers: {', '.join(sorted(p.profilers)) or 'none'}"
                  + "".join(f"; service {s.name} ({'container ' + s.image if s.image else 'host command'})"
                            for s in p.services) + "\n")
    for p in config.profiles.values():
        owners = [(f"profiles.{p.name}.env", p.env),
                  *((f"profiles.{p.name}.services.{s.name}.env", s.env) for s in p.services)]
        for where, env in owners:
            for var in env:
                if var.is_secret and var.default is None and var.secret_from not in environ:
                    out.write(f"warning: {where}.{var.name}: the secret's host variable {var.secret_from} is not "
                              f"set; `profile --name {p.name}` will refuse to start\n"
                              f"  hint: export {var.secret_from}=... before the run (its value is written nowhere)\n")
    return config


def mask_url_credentials(text: str) -> str:
    """https://user:token@host/... -> https://***@host/...: overrides are printed and recorded."""
    return re.sub(r"(://)[^/@\s]+@", r"\1***@", text)


def luajit_source_text(lj: LuajitSource) -> str:
    return f"local tree {lj.path}" if lj.path else f"{lj.git} @ {lj.ref}"


def loom_source_text(loom: LoomSource | None) -> str:
    if loom is None:
        return "none"
    return f"local checkout {loom.path}" if loom.path else f"{loom.git} @ {loom.ref}"


def describe_recipe(recipe: ImageRecipe) -> str:
    rocks = " ".join(recipe.rocks) or "no rocks"
    loom = f"; loom from {loom_source_text(recipe.loom)}" if recipe.loom else ""
    return (f"{recipe.base}; LuaJIT from {luajit_source_text(recipe.luajit)}; "
            f"LuaRocks from {recipe.luarocks.source}; {rocks}{loom}")


T = TypeVar("T")


def _select(config: Config, entries: Mapping[str, T], name: str, what: str) -> T:
    """entries[name], or an error that names the known ones and the likely one."""
    if name not in entries:
        known = tuple(sorted(entries))
        close = suggest(name, known, listing=False)
        raise ConfigError(f"{config.path}: there is no {what} '{name}'\n"
                          f"  hint: {close + ' ' if close else ''}known {what}s: {', '.join(known) or 'none'}")
    return entries[name]


def select_recipe(config: Config, name: str) -> ImageRecipe:
    return _select(config, config.images, name, "image recipe")


def select_profile(config: Config, name: str) -> Profile:
    return _select(config, config.profiles, name, "profile")


def resolve_plan(config_path: str | Path, image: str, options: Mapping[str, str | None],
                 environ: Mapping[str, str]) -> tuple[BuildPlan, Overrides]:
    """profiles.yml + LJPROF_* variables + task options -> the build plan."""
    config = load_config(config_path)
    recipe = select_recipe(config, image)
    overrides = collect_overrides(environ, options)
    return plan_build(recipe, overrides), overrides


def print_plan(plan: BuildPlan, overrides: Overrides, out: TextIO, recipe: Override | None = None) -> None:
    """The resolved build, before any work starts, and every override in force (the recipe's too)."""
    r, args = plan.recipe, plan.build_args
    out.write(f"image '{r.name}' -> {plan.tag}\n")
    out.write(f"  base      {r.base}\n")
    out.write(f"  luajit    {mask_url_credentials(luajit_source_text(r.luajit))} (build: {args['LUAJIT_BUILD']})\n")
    rocks = " ".join(r.rocks) or "none"
    version = f" {r.luarocks.version}" if r.luarocks.version else ""
    out.write(f"  luarocks  from {r.luarocks.source}{version}; rocks: {rocks}\n")
    out.write(f"  fixes     {args['LUAJIT_FIXES'].replace(',', ', ')}\n")
    out.write(f"  loom      {loom_source_text(r.loom)}\n")
    out.write(f"  network   {plan.network or 'default'}\n")
    for line in ([f"image = {recipe.value} (from {recipe.origin})"] if recipe and recipe.origin else []) \
            + overrides.describe():
        out.write(f"  override  {mask_url_credentials(line)}\n")


def pick_recipe(option: str | None, environ: Mapping[str, str], fallback: str) -> Override:
    """The image recipe: --image, else LJPROF_IMAGE, else the profile's (or `default`); origin '' for the last."""
    if option:
        return Override(option, "--image")
    if environ.get("LJPROF_IMAGE"):
        return Override(environ["LJPROF_IMAGE"], "LJPROF_IMAGE")
    return Override(fallback, "")


def recorded_overrides(recipe: Override, overrides: Overrides) -> list[dict[str, str]]:
    """The overrides in force for the manifest: [{name, value, from}], credentials in URLs masked."""
    rows = [{"name": "image", "value": recipe.value, "from": recipe.origin}] if recipe.origin else []
    for name in OVERRIDE_NAMES:
        value = getattr(overrides, name)
        if value is not None:
            rows.append({"name": name, "value": mask_url_credentials(value.value), "from": value.origin})
    return rows


@dataclass(frozen=True)
class BuildOutcome:
    tag: str
    image_id: str
    built: bool
    seconds: float
    log: Path | None
    overrides: list[dict[str, str]] = field(default_factory=list)  # in force for this build: for the manifest


def build(config_path: str | Path, image: str | None, options: Mapping[str, str | None], environ: Mapping[str, str],
          out: TextIO, rebuild: bool = False) -> BuildOutcome:
    """Build the recipe's image (--image, else LJPROF_IMAGE, else `default`) unless an image with its content
    hash exists."""
    return build_recipe(config_path, pick_recipe(image, environ, "default"), options, environ, out, rebuild)


def build_recipe(config_path: str | Path, recipe: Override, options: Mapping[str, str | None],
                 environ: Mapping[str, str], out: TextIO, rebuild: bool = False) -> BuildOutcome:
    started = time.monotonic()
    plan, overrides = resolve_plan(config_path, recipe.value, options, environ)
    print_plan(plan, overrides, out, recipe)
    client = docker_engine.connect()
    existing = docker_engine.find_image(client, plan.tag)
    if existing is not None and not rebuild:
        seconds = time.monotonic() - started
        out.write(f"up to date: {plan.tag} ({existing.short_id}); nothing to build ({seconds:.2f}s)\n")
        return BuildOutcome(plan.tag, str(existing.id), built=False, seconds=seconds, log=None,
                            overrides=recorded_overrides(recipe, overrides))

    log_path = STATE_DIR / "logs" / f"build-{plan.recipe.name}-{plan.content_hash[:12]}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out.write(f"building {plan.tag} (full log: {log_path})\n")
    display = BuildDisplay(out)
    try:
        with log_path.open("w", encoding="utf-8") as log:
            image_id = docker_engine.build_image(client, plan, display, log)
    finally:
        display.finish()
    facts = image_facts(client, plan.tag, image_id)
    seconds = time.monotonic() - started
    out.write(f"built {plan.tag} ({image_id[7:19]}) in {seconds:.0f}s\n")
    out.write(format_facts(facts))
    return BuildOutcome(plan.tag, image_id, built=True, seconds=seconds, log=log_path,
                        overrides=recorded_overrides(recipe, overrides))


def image_facts(client: Any, tag: str, image_id: str) -> dict[str, Any]:
    """The image's /usr/share/ljprof/image.json, cached on the host by image id."""
    cache = STATE_DIR / "images" / f"{image_id.replace('sha256:', '')}.json"
    if cache.is_file():
        return dict(json.loads(cache.read_text(encoding="utf-8")))
    code, output = docker_engine.run_command(client, tag, ["cat", IMAGE_INFO_PATH])
    if code != 0:
        raise DockerUnavailable(f"{tag} has no readable {IMAGE_INFO_PATH} (exit {code}): {output.strip()}")
    facts = dict(json.loads(output))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(facts, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(cache)
    return facts


def format_facts(facts: dict[str, Any]) -> str:
    lj = facts["luajit"]
    feats = facts["features"]
    rocks = facts["luarocks"]

    def profiler(name: str) -> str:
        f = feats[name]
        if f["works"]:
            return f"{name}: works"
        return f"{name}: {'present but fails' if f['present'] else 'absent'}"

    metrics = feats["getmetrics"]
    lines = [
        f"  LuaJIT    {lj['version']} ({lj['arch']}, {lj['build_system']} build, "
        f"JIT {'on' if lj['jit_enabled'] else 'off'})",
        f"  commit    {lj['commit'] or 'unknown (local tree without git)'}",
        f"  source    {lj['source']}{' @ ' + lj['ref'] if lj['ref'] else ''}",
        f"  profilers {profiler('memprof')}; {profiler('sysprof')}; getmetrics: "
        + (f"{len(metrics['keys'])} metrics" if metrics["present"] else "absent"),
        f"  LuaRocks  {rocks['version'] or 'none'} (from {rocks['from']}); "
        + (", ".join(f"{r['name']} {r['version']}" for r in rocks["rocks"]) or "no rocks"),
        f"  fixes     {format_fixes(facts.get('fixes', []))}",
        f"  loom      {format_loom(feats.get('loom', {}))}",
    ]
    return "\n".join(lines) + "\n"


def format_loom(loom: Mapping[str, Any]) -> str:
    if not loom.get("installed"):
        return f"present but fails to load: {loom['error']}" if loom.get("error") else "not installed"
    jquery = f"jQuery {loom['jquery_version']}" if loom.get("jquery") else "no jQuery (its page needs a CDN)"
    return f"installed ({loom.get('commit', '?')[:12]}); {jquery}"


def format_fixes(fixes: list[dict[str, Any]]) -> str:
    """The fixes applied in an image, then the others by reason ("not applicable"); image.json has the details."""
    applied = ", ".join(f["name"] for f in fixes if f["applied"]) or "none"
    skipped: dict[str, list[str]] = {}
    for f in fixes:
        if not f["applied"]:
            skipped.setdefault(str(f["why"]).split(":", 1)[0], []).append(f["name"])
    return applied + "".join(f" ({why}: {', '.join(names)})" for why, names in skipped.items())


def images(out: TextIO, as_json: bool = False) -> list[dict[str, Any]]:
    """ljprof's images with what each reports about itself."""
    client = docker_engine.connect()
    rows = []
    for image in docker_engine.managed_images(client):
        tag = docker_engine.image_name(image)
        facts = image_facts(client, tag, str(image.id))
        rows.append({"tag": tag, "id": image.id, "created": image.attrs.get("Created", ""),
                     "recipe": image.labels.get(LABEL_RECIPE, ""), "hash": image.labels.get(LABEL_HASH, ""),
                     "facts": facts})
    if as_json:
        out.write(json.dumps(rows, indent=2, sort_keys=True) + "\n")
        return rows
    if not rows:
        out.write("no ljprof images; build one with `invoke build`\n")
    for row in rows:
        out.write(f"{row['tag']}  (recipe {row['recipe']}, created {row['created'][:19].replace('T', ' ')})\n")
        out.write(format_facts(row["facts"]))
    return rows


def context(config_path: str | Path, image: str, out_dir: str | Path, options: Mapping[str, str | None],
            environ: Mapping[str, str], out: TextIO) -> BuildPlan:
    """Write the build context to a folder and print the tag and build arguments.

    For builders other than the SDK's classic one, e.g. docker/build-push-action
    in GitHub Actions: build `out_dir` with these arguments and this tag, and
    `invoke build` then finds the image and builds nothing. With GITHUB_OUTPUT
    set, `tag`, `context` and `build-args` are also written there.
    """
    plan, _ = resolve_plan(config_path, image, options, environ)
    target = Path(out_dir)
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target}: the folder exists and is not empty\n  hint: name a new or empty folder")
    target.mkdir(parents=True, exist_ok=True)
    write_context_dir(plan, target)
    args = "\n".join(f"{k}={v}" for k, v in sorted(plan.build_args.items()))
    out.write(f"tag={plan.tag}\ncontext={target}\n{args}\n")
    github_output = environ.get("GITHUB_OUTPUT")
    if github_output:
        with open(github_output, "a", encoding="utf-8") as f:
            f.write(f"tag={plan.tag}\ncontext={target}\nbuild-args<<LJPROF_EOF\n{args}\nLJPROF_EOF\n")
    return plan


def base_image(tag: str, suite: str, mirror: str | None, out: TextIO) -> str:
    """Make a Debian base image with debootstrap and `docker import` (no registry needed)."""
    if shutil.which("debootstrap") is None:
        raise ToolFailed("debootstrap is not installed\n  hint: sudo apt-get install debootstrap")
    if os.geteuid() != 0:
        raise ToolFailed("debootstrap needs root\n  hint: run this task with sudo, or as root")
    client = docker_engine.connect()
    with tempfile.TemporaryDirectory(prefix="ljprof-rootfs-") as tmp:
        rootfs = Path(tmp, "rootfs")
        command = ["debootstrap", "--variant=minbase", suite, str(rootfs)] + ([mirror] if mirror else [])
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
            raise ToolFailed(f"debootstrap failed (exit {proc.returncode}):\n{tail}")
        tarball = Path(tmp, "rootfs.tar")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        image_id = docker_engine.import_rootfs(client, tarball, tag)
    out.write(f"imported {tag} ({image_id[7:19]}); use it with LJPROF_BASE_IMAGE={tag}\n")
    return image_id


def clean(out: TextIO, images: bool = False) -> None:
    """Remove containers (and with `images`, images) that ljprof left behind."""
    client = docker_engine.connect()
    containers, removed = docker_engine.remove_managed(client, images)
    out.write(f"removed {len(containers)} container(s)" + (f" and {len(removed)} image(s)" if images else "") + "\n")
    for name in containers + removed:
        out.write(f"  {name}\n")


def list_profiles(config_path: str | Path, out: TextIO, as_json: bool = False) -> list[str]:
    """The profiles, one per line; with as_json a JSON list (a GitHub Actions matrix)."""
    config = load_config(config_path)
    names = sorted(config.profiles)
    if as_json:
        out.write(json.dumps(names) + "\n")
        return names
    for name in names:
        p = config.profiles[name]
        duration = f"{p.duration:g}s" if p.duration is not None else "until it ends"
        out.write(f"{name}\tluajit {' '.join([p.script, *p.args])}\timage {p.image}\t"
                  f"profilers {','.join(sorted(p.profilers)) or 'none'}\tduration {duration}\n")
    return names


def profile(config_path: str | Path, name: str | None, image: str | None, options: Mapping[str, str | None],
            environ: Mapping[str, str], out: TextIO, reports: str | Path | None = None,
            base: str | None = None) -> RunResult:
    """Build (if needed) the profile's image, run its target under its profilers, collect a run directory,
    then check the profile's budgets (relative ones against `base`, a run directory or PROFILE[@RUN_ID])."""
    started = time.monotonic()
    config = load_config(config_path)
    if not name:
        known = ", ".join(sorted(config.profiles)) or "none"
        raise ConfigError(f"{config.path}: which profile? --name is missing\n  hint: --name NAME, one of: {known}")
    chosen = select_profile(config, name)
    recipe = pick_recipe(image, environ, chosen.image)
    select_recipe(config, recipe.value)
    chosen = replace(chosen, image=recipe.value)  # the manifest's config says the recipe that ran
    outcome = build_recipe(config_path, recipe, options, environ, out)
    client = docker_engine.connect()
    facts = image_facts(client, outcome.tag, outcome.image_id)
    check_image(chosen, facts, outcome.tag)
    plan = plan_run(chosen, outcome.tag, environ)
    # absolute: raw/ is bind-mounted into the container, and the engine takes only absolute paths
    reports_dir = Path(reports).resolve() if reports else Path(config_path).resolve().parent / "reports"
    base_run = Run.load(resolve(base, reports_dir)) if base else None  # a wrong --base fails before the run
    limit = f"SIGINT after {chosen.duration:g}s" if chosen.duration is not None else "runs until it ends"
    out.write(f"running profile '{name}': luajit {' '.join([chosen.script, *chosen.args])} "
              f"({limit}, hard timeout {chosen.timeout:g}s; profilers: {', '.join(sorted(chosen.profilers))})\n")
    out.flush()
    image_info = {"tag": outcome.tag, "id": outcome.image_id, "recipe": recipe.value, "luajit": facts["luajit"],
                  "features": facts["features"], "fixes": facts.get("fixes", []), "overrides": outcome.overrides}
    status = RunStatus(out, chosen.duration, chosen.timeout)
    try:
        result = runner.run(client, plan, image_info, reports_dir, started, status=status)
    finally:
        status.finish()
    out.write(format_run(result))
    report(result.run_dir, out)
    ending = result.manifest["ending"]
    if not ending["ok"]:
        raise TargetFailed(f"the target failed: {ending['message']}\n"
                           + "".join(f"  | {line}\n" for line in stderr_tail(result.run_dir))
                           + f"  run directory: {result.run_dir} (reports kept; open index.html)", result.run_dir)
    budget_checks.report(Run.load(result.run_dir), chosen.budgets, base_run, out)
    return result


def compare(base: str | None, head: str, reports: str | Path, out: TextIO, out_dir: str | Path | None = None
            ) -> dict[str, Any]:
    """Compare two runs; write compare.json, compare.md and compare.html into the head run's directory
    (or `out_dir`), and print the comparison.

    The head's directory by default: the comparison travels with the run it
    judges (one artifact per profile in CI), under fixed names that a job
    summary step or a PR comment can pick up; comparing again replaces it.
    """
    base_dir, head_dir = resolve_pair(base, head, Path(reports))
    base_run, head_run = Run.load(base_dir), Run.load(head_dir)
    flame = FlameDiff.of(base_run, head_run)
    data = compare_runs(base_run, head_run, flame)
    target = Path(out_dir) if out_dir else head_dir
    target.mkdir(parents=True, exist_ok=True)
    written = [
        write_atomically(target / "compare.json", SummaryJson(data).render),  # sorted keys, as summary.json
        compare_output.save(target / "compare.md", compare_output.markdown(data)),
        compare_output.save(target / "compare.html", compare_output.page(data, flame)),
    ]
    compare_output.text(data, out)
    for path in written:
        out.write(f"report: {path}\n")
    return data


def budgets(run: str | Path, base: str | None, config_path: str | Path, reports: str | Path, out: TextIO
            ) -> list[budget_checks.Verdict]:
    """Check a finished run's budgets: those of its profile in profiles.yml, else those its manifest
    recorded; relative ones against `base`. Raises BudgetBroken when one is broken."""
    head = Run.load(resolve(str(run), Path(reports)))
    base_run = Run.load(resolve(base, Path(reports))) if base else None
    return budget_checks.report(head, budgets_of(head, config_path), base_run, out)


def budgets_of(run: Run, config_path: str | Path) -> tuple[Budget, ...]:
    """The run's profile's budgets in profiles.yml when it has that profile, else the run manifest's."""
    if Path(config_path).is_file():
        config = load_config(config_path)
        if run.profile in config.profiles:
            return config.profiles[run.profile].budgets
    recorded = (run.dir.manifest.get("config") or {}).get("budgets") or []
    return tuple(Budget(**b) for b in recorded)


def stderr_tail(run_dir: Path, lines: int = 10) -> list[str]:
    """The last lines the target wrote to stderr (secrets already masked)."""
    path = run_dir / "raw" / "stderr.log"
    if not path.is_file():
        return []
    return path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]


def reports_line(run_dir: Path, files: Sequence[Path]) -> str:
    """The reports written, on one line: index.html first (the page to open), by name in the run directory."""
    names = [str(p.relative_to(run_dir)) if p.is_relative_to(run_dir) else str(p) for p in files]
    names.sort(key=lambda n: (n != "index.html", n))
    return f"reports in {run_dir}: {', '.join(names)}\n"


def report(run_dir: str | Path, out: TextIO) -> Rendered:
    """Render a run directory's reports (again) from its raw files, and say where they are and what they found."""
    rendered = render_run(Path(run_dir))
    out.write(reports_line(Path(run_dir), rendered.files))
    for section in rendered.sections:
        out.write(f"{section.headline or section.name + ': ' + section.state}\n")
        for line in section.console:
            out.write(f"{line}\n")
    return rendered


def overview(folder: str | Path, out: TextIO) -> Path:
    """index.html over every run directory below `folder` (e.g. the merged artifact, or reports/)."""
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{root}: no such folder\n  hint: name the folder that holds the run directories")
    page = OverviewPage.of(root)
    path = write_atomically(root / "index.html", page.render)
    out.write(f"overview: {path} ({len(page.rows)} run(s))\n")
    return path


def find_run(reports_dir: str | Path, run: str | None, profile_name: str | None,
             profiles: tuple[str, ...] = ()) -> Path:
    """A run directory named by path, or a profile's latest run; `profiles` (those of profiles.yml) and the
    profiles with runs in `reports_dir` make the "did you mean" of a misspelled name."""
    if run:
        return Path(run)
    with_runs = tuple(sorted(link.parent.name for link in Path(reports_dir).glob("*/latest") if link.exists()))
    listing = f"profiles with runs in {reports_dir}: {', '.join(with_runs) or 'none yet'}"
    if not profile_name:
        raise ConfigError("name a run directory (--run DIR) or a profile (--name NAME, for its latest run)\n"
                          f"  hint: {listing}")
    latest = Path(reports_dir) / profile_name / "latest"
    if not latest.exists():
        close = suggest(profile_name, tuple(sorted({*with_runs, *profiles})), listing=False)
        if profile_name in profiles or not close:
            hint = f"invoke profile --name {profile_name}" if profile_name in profiles else listing
        else:
            hint = f"{close} {listing}"
        raise ConfigError(f"{latest}: no run of profile '{profile_name}' yet\n  hint: {hint}")
    return latest.resolve()


def format_run(result: RunResult) -> str:
    m = result.manifest
    e = m["ending"]
    t = m["timings"]
    if e.get("kind") == "interrupted" and e.get("stopped_by") == "duration":
        # "exit code 1" reads like a failure: say at once that it is luajit's answer to the planned SIGINT
        ending = (f"stopped by SIGINT at the profile's duration, as planned; exit code {e['exit_code']}, "
                  "as luajit always exits on SIGINT: normal here")
    else:
        ending = f"{e['message']}; exit code {e['exit_code']}"
    lines = [f"run {result.run_id}: {'ok' if e['ok'] else 'FAILED'}: {ending}",
             f"  run directory: {result.run_dir}",
             f"  prepared in {t['prepare_s']:.2f} s, ran {t['target_s']:.2f} s, collected in {t['collect_s']:.2f} s"]
    lines.extend(f"  service {line}" for line in service_lines(m))
    lines.extend(f"  {line}" for line in file_lines(m["files"]))
    return "\n".join(lines) + "\n"


def file_lines(files: list[dict[str, Any]], shown: int = 4) -> list[str]:
    """One line per folder of the run directory: its files (the largest first, by name), or for the kept
    sources their count; the manifest and index.html list every file and what wrote it."""
    folders: dict[str, list[dict[str, Any]]] = {}
    for f in files:
        folders.setdefault(f["path"].split("/", 1)[0] if "/" in f["path"] else ".", []).append(f)
    lines = []
    for folder, entries in folders.items():
        total = human_bytes(sum(f["size"] for f in entries))
        if folder == "sources":
            lines.append(f"sources/  {len(entries)} Lua files kept for reports, {total}")
            continue
        largest = sorted(entries, key=lambda f: (-f["size"], f["path"]))
        names = ", ".join(f"{f['path'].split('/', 1)[-1]} {human_bytes(f['size'])}" for f in largest[:shown])
        more = f", and {len(largest) - shown} more" if len(largest) > shown else ""
        lines.append(f"{folder}/  {names}{more} ({total} in all)" if folder != "." else f"{names}{more}")
    return lines


def memprof_file(path: str | Path, out: TextIO, *, leak_only: bool = False, human_readable: bool = False,
                 json_out: str | None = None, html_out: str | None = None, sources: str | None = None) -> int:
    """Reports of a memprof file outside a run: text to `out`, JSON and HTML to files if asked.

    Returns 0, or 1 when the file was cut (the reports then cover every event before the cut).
    """
    profile = parse_file(path)
    if json_out:
        write_atomically(Path(json_out), MemprofJsonReport(profile, leak_only=leak_only).render)
    if html_out:
        lines = SourceLines.from_folder(Path(sources) if sources else Path(path).resolve().parent)
        write_atomically(Path(html_out), MemprofHtmlReport(profile, lines, title=f"memprof: {Path(path).name}").render)
    MemprofTextReport(profile, leak_only=leak_only, human_readable=human_readable).render(out)
    return 0 if profile.complete else 1
