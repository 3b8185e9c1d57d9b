"""Sampled stacks as flame graphs and tables, for every sampling profiler (cpu, sysprof).

A profiler hands this module its samples aggregated as `Stacks`: root-first
frame names -> sample count. Everything here only formats; nothing parses a
profiler's raw files.

Frame names (shared by the profilers so their graphs and tables read alike):

- a Lua frame is `chunk:line function-name`, e.g. `@bot.lua:68 handle`: the
  chunk name as Lua spells it (`@` and the path as loaded), the line that frame
  was running (the leaf's line is where the sample hit; a caller's is its call
  site), then the function's name when the profiler knows one (else nothing
  after the line). Several lines of one function are several frames; the page's
  "by function" switch merges them (`function_name` drops the line).
- anything else (fast functions, C functions, traces) is a name of the
  profiler's choosing without a `:line ` part, e.g. `[builtin#29] format`,
  `cjson.so+0x3cc0`, `trace 3`.
- the VM state of a sample is the stack's last (leaf) frame, a pseudo-frame
  in brackets from `VM_STATES` (`[interpreted]`, `[compiled]`, `[C]`, `[GC]`,
  `[JIT compiler]`, ...; `state_frame("GC")`). The graph so shows under each
  function how its time splits by state; `top_frames` skips the pseudo-frames
  (a sample's self time goes to its deepest real frame) and `vm_states` sums
  them.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

from ljprof.reporting.markdown import md_code
from ljprof.reporting.model import HARNESS_PREFIXES, Json, Page, RunDir, Section, SourceLines
from ljprof.reporting.page import asset

Stacks = Mapping[tuple[str, ...], int]

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
VM_STATES = ("interpreted", "compiled", "C", "GC", "JIT compiler",  # jit.profile's I N C G J
             "Lua function", "fast function", "C function", "trace exit", "recording", "optimizing",
             "assembling", "trace")  # sysprof's own states besides those
_STATE_FRAMES = frozenset(f"[{s}]" for s in VM_STATES)
_LUA_FRAME = re.compile(r"^(?P<chunk>[^\s]+?):(?P<line>\d+)(?: (?P<name>.*))?$")
FEW_SAMPLES = 20  # fewer than this: the graph says little, and the headline says why
TOP_PAGE = 40
TOP_INDEX = 10
TOP_SUMMARY = 10


def state_frame(state: str) -> str:
    """The pseudo-frame of a VM state (one of VM_STATES), the leaf of a sample's stack."""
    if state not in VM_STATES:
        raise ValueError(f"unknown VM state {state!r}: one of {', '.join(VM_STATES)}")
    return f"[{state}]"


def is_state(frame: str) -> bool:
    return frame in _STATE_FRAMES


@dataclass(frozen=True)
class LuaFrame:
    chunk: str  # "@bot.lua"
    line: int
    name: str  # "" when the profiler knew none

    @property
    def location(self) -> str:
        return f"{self.chunk}:{self.line}"


def parse_frame(frame: str) -> LuaFrame | None:
    """A Lua frame's chunk, line and name; None for any other frame."""
    m = _LUA_FRAME.match(frame)
    if m is None or is_state(frame):
        return None
    return LuaFrame(m["chunk"], int(m["line"]), m["name"] or "")


def function_name(frame: str) -> str:
    """A frame without its line (`@bot.lua handle`): the name of its function, for the by-function view."""
    lua = parse_frame(frame)
    if lua is None:
        return frame
    return f"{lua.chunk} {lua.name}" if lua.name else lua.chunk


def is_harness(frame: str) -> bool:
    """A frame of ljprof's own Lua (run.lua, a profiler's harness.lua), named with or without the '@'."""
    return frame.removeprefix("@").startswith(HARNESS_PREFIXES)


def without_harness(frames: list[str]) -> list[str]:
    """The frames above ljprof's own, root first: everything from the root through the last harness
    frame, and the xpcall it calls the target with, is cut (the host frames below it too)."""
    cut = 0
    for i, frame in enumerate(frames):
        if is_harness(frame):
            cut = i + 1
    if 0 < cut < len(frames) and frames[cut].startswith("[builtin#") and frames[cut].endswith("xpcall"):
        cut += 1
    return frames[cut:]


def total_samples(stacks: Stacks) -> int:
    return sum(stacks.values())


def merge(pairs: Iterable[tuple[tuple[str, ...], int]]) -> dict[tuple[str, ...], int]:
    """(stack, count) pairs summed per stack."""
    out: Counter[tuple[str, ...]] = Counter()
    for stack, count in pairs:
        out[stack] += count
    return dict(out)


# -- text and JSON outputs ---------------------------------------------------------------------------

def _folded_frame(frame: str) -> str:
    return frame.replace(";", ":").replace("\n", " ")


def folded(stacks: Stacks) -> str:
    """flamegraph.pl / inferno input: `root;...;leaf count` lines, sorted; `;` in a name becomes `:`."""
    name = {f: _folded_frame(f) for f in set(chain.from_iterable(stacks))}.__getitem__  # each frame once
    lines = sorted(f"{';'.join(map(name, stack))} {count}" for stack, count in stacks.items()
                   if count > 0 and stack)
    return "".join(line + "\n" for line in lines)


@dataclass(frozen=True)
class Interned:
    """Stacks with their frames numbered once, for the page and the speedscope file alike: `frames` in
    order of first appearance, `rows` (count, frame indices root first) sorted by stack, counts > 0."""

    frames: list[str]
    rows: list[tuple[int, list[int]]]


def intern(stacks: Stacks) -> Interned:
    """Loops over frames run in C (dict.fromkeys, map): 1 M samples in 20,000 stacks take 0.03 s."""
    items = [(stack, count) for stack, count in sorted(stacks.items()) if count > 0 and stack]
    frames = list(dict.fromkeys(chain.from_iterable(stack for stack, _ in items)))
    index = {frame: i for i, frame in enumerate(frames)}.__getitem__
    return Interned(frames, [(count, list(map(index, stack))) for stack, count in items])


def speedscope(stacks: Stacks, *, name: str, interval_s: float | None, interned: Interned | None = None) -> Json:
    """A speedscope file holding one "sampled" profile: weights in milliseconds when the
    sampling interval is known (count x interval), else sample counts (unit none)."""
    table = interned or intern(stacks)
    frames: list[Json] = []
    for frame in table.frames:
        lua = parse_frame(frame)
        frames.append({"name": frame} if lua is None else
                      {"name": frame, "file": lua.chunk.lstrip("@="), "line": lua.line})
    samples = [ids for _, ids in table.rows]
    ms = interval_s * 1000 if interval_s else None
    weights: list[float] = [round(count * ms, 6) for count, _ in table.rows] if ms else \
        [count for count, _ in table.rows]
    unit = "milliseconds" if interval_s else "none"
    profile = {"type": "sampled", "name": name, "unit": unit, "startValue": 0,
               "endValue": round(sum(weights), 6), "samples": samples, "weights": weights}
    return {"$schema": SPEEDSCOPE_SCHEMA, "shared": {"frames": frames}, "profiles": [profile],
            "name": name, "activeProfileIndex": 0, "exporter": "ljprof"}


@dataclass(frozen=True)
class TopFrame:
    frame: str
    self: int  # samples where it is the deepest real frame
    total: int  # samples where it is anywhere on the stack (once per sample, recursion or not)
    self_pct: float
    total_pct: float


def top_frames(stacks: Stacks, n: int) -> list[TopFrame]:
    """The n frames with the most self samples (then total), VM-state pseudo-frames left out."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for stack, count in stacks.items():
        real = stack[:-1] if stack and stack[-1] in _STATE_FRAMES else stack  # the state is the leaf
        if not _STATE_FRAMES.isdisjoint(real):
            real = tuple(f for f in real if not is_state(f))
        if not real or count <= 0:
            continue
        own[real[-1]] += count
        for frame in set(real):
            total[frame] += count
    whole = total_samples(stacks) or 1
    ranked = sorted(total, key=lambda f: (-own[f], -total[f], f))[:n]
    return [TopFrame(f, own[f], total[f], round(100 * own[f] / whole, 2), round(100 * total[f] / whole, 2))
            for f in ranked]


def vm_states(stacks: Stacks) -> dict[str, int]:
    """Samples per VM state (the leaf pseudo-frame, without brackets); stacks without one are left out."""
    out: Counter[str] = Counter()
    for stack, count in stacks.items():
        if stack and is_state(stack[-1]):
            out[stack[-1][1:-1]] += count
    return dict(out.most_common())


def samples_by_location(stacks: Stacks) -> dict[str, int]:
    """Samples per source line where they hit (`@file.lua:N`, the deepest Lua frame's line)."""
    out: Counter[str] = Counter()
    for stack, count in stacks.items():
        for frame in reversed(stack):
            lua = parse_frame(frame)
            if lua is not None:
                out[lua.location] += count
                break
    return dict(out)


# -- the flame graph page ----------------------------------------------------------------------------

def _source_of(frame: str, sources: SourceLines | None) -> str:
    lua = parse_frame(frame)
    if lua is None or sources is None:
        return ""
    return sources.line(lua.chunk, lua.line) or ""


def page_data(stacks: Stacks, *, sources: SourceLines | None = None, top: int = TOP_PAGE,
              interned: Interned | None = None, ranked: list[TopFrame] | None = None) -> Json:
    """What the flame page's script gets: frames interned, stacks as index lists with counts,
    the top-functions rows (`ranked`, when the caller has top_frames(stacks, top) already), and the
    source line of each Lua frame the run kept."""
    table = interned or intern(stacks)
    names = table.frames
    return {
        "frames": names,
        "stacks": [[count, *ids] for count, ids in table.rows],
        "samples": total_samples(stacks),
        "source": {i: line for i, f in enumerate(names) if (line := _source_of(f, sources))},
        "top": [[t.frame, t.self, t.total, t.self_pct, t.total_pct, _source_of(t.frame, sources)]
                for t in (ranked if ranked is not None else top_frames(stacks, top))],
    }


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def flame_page(stacks: Stacks, *, title: str, subtitle: str = "", sources: SourceLines | None = None,
               interval_s: float | None = None, note: str = "", interned: Interned | None = None,
               ranked: list[TopFrame] | None = None) -> str:
    """A self-contained HTML page: the interactive flame graph (click to zoom, search that sums the
    matching share, hover for samples and percent, flame/icicle, left-heavy order, by line or by
    function) and the top-functions table (self %, total %, source line)."""
    e = html.escape
    data = page_data(stacks, sources=sources, interned=interned, ranked=ranked)
    data["interval_ms"] = interval_s * 1000 if interval_s else None
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(title)}</title>
<style>
{asset("page.css")}
{asset("flame.css")}
</style>
</head>
<body>
<h1>{e(title)}</h1>
<p class="meta">{e(subtitle)}</p>
{f'<p class="warn">{e(note)}</p>' if note else ""}
<div class="flame-tools">
  <input id="flame-search" type="search" placeholder="search frames (text or /regex/)" size="34">
  <span id="flame-match" class="muted"></span>
  <label><input type="checkbox" id="flame-icicle"> icicle</label>
  <label><input type="checkbox" id="flame-heavy" checked> left heavy</label>
  <label><input type="checkbox" id="flame-byfn"> by function</label>
  <button id="flame-reset" type="button">reset zoom</button>
</div>
<div id="flame-wrap"><canvas id="flame"></canvas><div id="flame-tip" hidden></div></div>
<p class="muted" id="flame-status"></p>
<h2>Top functions</h2>
<p class="muted">self: samples where the frame was the deepest (running itself); total: samples with the frame
anywhere on the stack. VM states (interpreted, compiled, C, GC, JIT compiler) are the graph's leaf boxes.</p>
<table class="wide flame-top"><thead><tr><th>frame</th><th>self</th><th>self %</th><th>total</th>
<th>total %</th><th>source line</th></tr></thead><tbody id="flame-top"></tbody></table>
<script id="flame-data" type="application/json">{_script_json(data)}</script>
<script>
{asset("flame.js")}
</script>
</body>
</html>
"""


# -- a profiler's section --------------------------------------------------------------------------

def stacks_section(name: str, stacks: Stacks, run: RunDir, *, title: str, interval_s: float | None = None,
                   state: str = "complete", why: str = "", extra: Json | None = None,
                   few_reason: str = "the target ran for too short a time") -> Section:
    """The section of a sampling profiler `name` (cpu, sysprof): headline, pages <name>.html (flame
    graph), <name>.folded, <name>.speedscope.json, summary.json `<name>: {samples, top: [{frame,
    self_pct, total_pct}]}` and profilers.<name> (samples, vm_states, note, and `extra`), an index.html
    fragment (top table and links) and markdown. With fewer than FEW_SAMPLES samples the headline and
    page say "few samples: <few_reason>" (cpu: "the target was mostly off CPU")."""
    sources = run.sources()
    samples = total_samples(stacks)
    ranked = top_frames(stacks, max(TOP_PAGE, TOP_INDEX, TOP_SUMMARY))  # once for the page and the rest
    top = ranked[:max(TOP_INDEX, TOP_SUMMARY)]
    states = vm_states(stacks)
    few = samples < FEW_SAMPLES
    note = ""
    if few:
        note = f"few samples ({samples}): {few_reason}"
    if not top:
        headline = f"{name}: {note or 'no samples'}"
    else:
        first = top[0]
        src = _source_of(first.frame, sources)
        headline = (f"{name}: {samples:,} samples; hottest {first.frame} {first.self_pct:.1f}% self, "
                    f"{first.total_pct:.1f}% total" + (f" `{src[:60]}`" if src else ""))
        if note:
            headline += f" ({note})"
    page_name = f"{name}.html"
    table = intern(stacks)  # once for the page and the speedscope file

    def write_page(out: Any) -> None:
        out.write(flame_page(stacks, title=title, subtitle=f"{run.profile} · run {run.run_id} · "
                             f"{samples:,} samples", sources=sources, interval_s=interval_s, note=note,
                             interned=table, ranked=ranked[:TOP_PAGE]))

    def write_folded(out: Any) -> None:
        out.write(folded(stacks))

    def write_speedscope(out: Any) -> None:
        out.write(json.dumps(speedscope(stacks, name=f"{run.profile} {name}", interval_s=interval_s,
                                        interned=table), separators=(",", ":")))

    pages = (
        Page(page_name, "interactive flame graph and top functions", write_page),
        Page(f"{name}.folded", "folded stacks (flamegraph.pl / inferno input)", write_folded),
        Page(f"{name}.speedscope.json", "speedscope profile (open in speedscope)", write_speedscope),
    )
    top_json = [{"frame": t.frame, "self_pct": t.self_pct, "total_pct": t.total_pct} for t in top[:TOP_SUMMARY]]
    summary: Json = {"samples": samples, "vm_states": states, **(extra or {})}
    if note:
        summary["note"] = note
    return Section(
        name, state, why=why, headline=headline, html=_index_html(name, top, samples, states, note,
                                                                               sources),
        markdown=_markdown(headline, top), summary=summary,
        summary_top={name: {"samples": samples, "top": top_json}}, pages=pages, link=page_name,
    )


def _index_html(name: str, top: list[TopFrame], samples: int, states: Mapping[str, int], note: str,
                sources: SourceLines) -> str:
    e = html.escape
    out = [f'<div class="{e(name)} flame-summary">']
    if note:
        out.append(f'<p class="warn">{e(note)}</p>')
    if states and samples:
        out.append('<p class="muted">VM states: ' + e(", ".join(
            f"{state} {100 * n / samples:.1f}%" for state, n in states.items())) + "</p>")
    if top:
        out.append('<table class="top-frames"><thead><tr><th>frame</th><th>self %</th><th>total %</th>'
                   "<th>source line</th></tr></thead><tbody>")
        for t in top[:TOP_INDEX]:
            src = _source_of(t.frame, sources)
            out.append(f"<tr><td><code>{e(t.frame)}</code></td><td class=\"num\">{t.self_pct:.1f}</td>"
                       f"<td class=\"num\">{t.total_pct:.1f}</td><td><code>{e(src)}</code></td></tr>")
        out.append("</tbody></table>")
    out.append(f'<p><a href="{e(name)}.html">flame graph</a> · <a href="{e(name)}.folded">folded stacks</a> · '
               f'<a href="{e(name)}.speedscope.json">speedscope JSON</a></p></div>')
    return "\n".join(out)


def _markdown(headline: str, top: list[TopFrame]) -> str:
    lines = [f"- {headline}", ""]
    if top:
        lines += ["| frame | self % | total % |", "| --- | ---: | ---: |"]
        lines += [f"| {md_code(t.frame)} | {t.self_pct:.1f} | {t.total_pct:.1f} |" for t in top[:5]]
        lines.append("")
    return "\n".join(lines) + "\n"
