"""jit: what LuaJIT's trace compiler did with the target, and why it gave up where it did.

One profiler with three modes, because jit.attach keeps one handler per event
(jit.v and jit.dump attached together leave the v file empty):
  summary  jit.v's one line per trace event (KBs), raw/jit.v.txt
  dump     jit.dump's text with `flags` (MBs), raw/jit.dump.txt
  loom     cloudflare/loom's page (installed in the image), raw/loom.html,
           and its traces table as a jit.v-style log, raw/loom.v.txt
Every mode gets the same trace summary (section.py). The harness part is
harness.lua; raw/jit.status.txt says whether the JIT was on at start and stop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ljprof.profilers import cpu as cpu_profiler
from ljprof.profilers.base import Option
from ljprof.profilers.jit.section import FILES, STATUS, jit_section
from ljprof.reporting import flame
from ljprof.reporting.model import RunDir, Section

DUMP_FEATURES = "tbirsmxXa"  # jit/dump.lua's features; T, A, H pick the output format
DUMP_DEFAULT = set("tbim")  # what jit.dump does without flags
TRACE_LINES = set("tbism")  # any of these attaches the handler that writes the TRACE lines
# Where the image has them (image.json's features.loom says so too).
LOOM_TEMPLATE = "/usr/share/ljprof/loom/loom.html"
JQUERY = "/usr/share/javascript/jquery/jquery.min.js"  # Debian's libjs-jquery


def check_flags(flags: str) -> str:
    """'' when jit.dump takes these flags and writes the plain-text TRACE lines ljprof reads, else why not."""
    body = flags[1:] if flags[:1] in "+-" else flags
    unknown = sorted({c for c in body if c not in DUMP_FEATURES + "T"})
    if set(unknown) & set("AH"):
        return (f"'{flags}': ljprof reads the dump as plain text, so the output format is T (ANSI 'A' and HTML "
                "'H' are not taken); leave the format out or write T")
    if unknown:
        return (f"'{flags}': jit.dump does not know {', '.join(repr(c) for c in unknown)}; flags are "
                f"features from {DUMP_FEATURES} after an optional + (add to tbim) or - (remove), e.g. +rsT")
    chosen = set(body) - {"T"}
    features = DUMP_DEFAULT | chosen if flags[:1] == "+" else DUMP_DEFAULT - chosen if flags[:1] == "-" else chosen
    if not features & TRACE_LINES:
        return (f"'{flags}': with these flags jit.dump writes no TRACE lines, so there is nothing to summarise; "
                "keep at least one of t, b, i, s, m")
    return ""


def dump_flags(flags: str) -> str:
    """The flags as jit.dump gets them: plain text always (COLORTERM in the container would switch on ANSI)."""
    return flags if "T" in flags else flags + "T"


class JitProfiler:
    name = "jit"
    summary = "LuaJIT's traces: jit.v's summary, jit.dump's text, or loom's page; aborts by line and reason"
    options: Mapping[str, Option] = {
        "mode": Option("choice", "summary", "summary: jit.v (small); dump: jit.dump's text; loom: loom's page "
                       "(needs loom in the image)", choices=("summary", "dump", "loom")),
        "flags": Option("text", "+rsT", "jit.dump's flags as -jdump takes them (dump mode)", check=check_flags),
        "loom_max_traces": Option("count", 100, "loom mode: render at most this many trace numbers in loom.html "
                                  "(its size and time grow with every trace)", minimum=1),
    }

    def image_problem(self, facts: Mapping[str, Any], options: Mapping[str, Any]) -> str:
        luajit = facts.get("luajit", {})
        if not luajit.get("jit_enabled", True):
            return ("its LuaJIT has no JIT compiler (built with -DLUAJIT_DISABLE_JIT, or the JIT is off at start): "
                    "there are no traces to record; build the image without that option")
        loom = facts.get("features", {}).get("loom", {})
        if options.get("mode") == "loom" and loom.get("installed") is not True:
            recipe = facts.get("recipe") or "<recipe>"
            return (f"mode loom needs loom in the image, and this one has none; set images.{recipe}.loom: true "
                    "(or loom: {git: https://github.com/cloudflare/loom.git, ref: <commit>})")
        return ""

    def harness_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        mode = str(options["mode"])
        return {"mode": mode, "path": FILES[mode], "status": STATUS, "flags": dump_flags(str(options["flags"])),
                "loom_max_traces": int(options["loom_max_traces"]), "loom_page": "loom.html",
                "loom_template": LOOM_TEMPLATE, "jquery": JQUERY}

    def outputs(self) -> dict[str, str]:
        return {FILES["summary"]: "jit.v's trace events", FILES["dump"]: "jit.dump's text",
                FILES["loom"]: "loom's traces as jit.v lines", "loom.html": "loom's page",
                STATUS: "the JIT's state at start and stop, bytecode names, loom's figures"}

    def assess(self, raw: Path) -> dict[str, Any]:
        status = raw / STATUS
        text = status.read_text(encoding="utf-8", errors="replace") if status.is_file() else ""
        files = {name: (raw / name).stat().st_size for name in (*FILES.values(), "loom.html") if (raw / name).is_file()}
        return {"present": bool(text), "stopped": "\nstopped\t" in "\n" + text, "files": files}

    def report(self, run: RunDir) -> Section:
        return jit_section(run, cpu_by_line(run))


def cpu_by_line(run: RunDir) -> Mapping[str, int]:
    """CPU samples per line (`@file.lua:N` -> samples) from the run's cpu profiler, when it ran too.

    jit.profile samples the line being run, so a line that aborts traces and
    has samples is where the time goes into the interpreter. sysprof is not
    joined: it records the function (its definition line), not the line."""
    path = run.raw / cpu_profiler.FILE
    if not path.is_file():
        return {}
    by_line = flame.samples_by_location(cpu_profiler.parsed(run).stacks)
    # jit.v and jit.dump name a file by its last part (`@linearize.lua:93` for ./luacheck/stages/linearize.lua):
    # the samples are keyed so too
    out: Counter[str] = Counter()
    for location, samples in by_line.items():
        chunk, _, line = location.rpartition(":")
        out[f"@{chunk.removeprefix('@').rsplit('/', 1)[-1]}:{line}"] += samples
    return dict(out)


PROFILER = JitProfiler()
