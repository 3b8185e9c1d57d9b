"""summary.json (for machines: budgets, comparisons, CI) and summary.md (GitHub's job summary).

summary.json always has profile, run_id, image {tag, luajit_commit}, ending
{kind, ok, exit_code, signal, message}, duration_s, heap {samples,
start_kb, end_kb, peak_kb, slope_kb_per_min, growing} (None values when no
section measured the heap), findings, profilers {<name>: {state, why?,
...}}, and every section's summary_top merged in (a section cannot replace
the run's own keys). Keys are sorted, so the same run gives the same file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TextIO

from ljprof import __version__
from ljprof.reporting.markdown import md_text
from ljprof.reporting.model import Json, RunDir, Section
from ljprof.reporting.runfacts import ending_of, stderr_lines, traceback_of
from ljprof.reporting.units import format_seconds

RUN_KEYS = frozenset({"ljprof_version", "profile", "run_id", "started", "image", "ending", "duration_s",
                      "findings", "profilers", "services"})
HEAP_KEYS = ("samples", "start_kb", "end_kb", "peak_kb", "slope_kb_per_min", "growing")
MARKDOWN_LIMIT = 1000 * 1024  # GitHub takes up to 1 MiB of job summary per step


def summary_data(run: RunDir, sections: Sequence[Section]) -> Json:
    m = run.manifest
    image = m.get("image") or {}
    luajit = image.get("luajit") or {}
    timings = m.get("timings") or {}
    data: Json = {
        "ljprof_version": m.get("ljprof_version", __version__),
        "profile": run.profile,
        "run_id": run.run_id,
        "started": m.get("started"),
        "image": {"tag": image.get("tag"), "id": image.get("id"), "luajit_commit": luajit.get("commit"),
                  "luajit_version": luajit.get("version")},
        "ending": ending_of(m).as_json(),
        "duration_s": timings.get("target_s"),
        "heap": dict.fromkeys(HEAP_KEYS),
        "findings": [s.headline for s in sections if s.headline],
        "profilers": {},
        "services": [{k: s.get(k) for k in ("name", "state", "exit_code", "died_after_s", "log")}
                     for s in m.get("services") or []],
    }
    for s in sections:
        entry: Json = {**s.summary, "state": s.state}
        if s.why:
            entry["why"] = s.why
        data["profilers"][s.name] = entry
        for key, value in s.summary_top.items():
            if key not in RUN_KEYS:
                data[key] = value
    return data


class SummaryJson:
    def __init__(self, data: Json) -> None:
        self.data = data

    def render(self, out: TextIO) -> None:
        out.write(json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


class SummaryMarkdown:
    """The job summary: the run, how it ended, the findings, then each section's markdown (under 1 MiB)."""

    def __init__(self, run: RunDir, sections: Sequence[Section], data: Json) -> None:
        self.run = run
        self.sections = list(sections)
        self.data = data

    def lines(self) -> list[str]:
        d = self.data
        ending = ending_of(self.run.manifest)
        mark = "❔ unknown" if ending.ok is None else "✅ ok" if ending.ok else "❌ failed"
        code = "" if ending.exit_code is None else f"; exit code {ending.exit_code}"
        commit = (d["image"]["luajit_commit"] or "")[:12]
        duration = format_seconds(float(d["duration_s"])) if isinstance(d["duration_s"], (int, float)) else "?"
        out = [f"### ljprof: {md_text(self.run.profile)} · run {md_text(self.run.run_id)}", "",
               f"{mark} · **{md_text(ending.kind)}**: {md_text(ending.message)}{code}", "",
               "| profile | image | LuaJIT | duration |", "| --- | --- | --- | --- |",
               f"| {md_text(self.run.profile)} | `{md_text(str(d['image']['tag']))}` | "
               f"{md_text(str(d['image']['luajit_version'] or '?'))} {commit} | {duration} |", ""]
        tb = traceback_of(stderr_lines(self.run), ending.error) if ending.kind == "error" else []
        if tb:
            out += ["```", *(line.replace("```", "'''") for line in tb), "```", ""]
        out.append("**Findings**")
        out += [f"- {md_text(s.headline or s.name + ': ' + s.state)}" for s in self.sections] or ["- no profiler ran"]
        out.append("")
        return out

    def render(self, out: TextIO) -> None:
        text = "\n".join(self.lines()) + "\n"
        used = len(text.encode("utf-8"))
        for s in self.sections:
            if not s.markdown:
                continue
            part = f"#### {md_text(s.name)}\n\n{s.markdown.rstrip()}\n\n"
            size = len(part.encode("utf-8"))
            if used + size > MARKDOWN_LIMIT:
                text += (f"*{md_text(s.name)}'s part and those after it are left out: a job summary holds 1 MiB; "
                         "see index.html.*\n")
                break
            text += part
            used += size
        out.write(text)
