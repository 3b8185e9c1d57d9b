"""The object graph around one object, as DOT and SVG, drawn as lua-microscope draws Lua values.

A table is a record of its fields (key | value port), a function an ellipse
with its upvalues as edges, a metatable edge dashed, strings as their first
bytes. Breadth-first from the root to `depth` edges, at most `max_nodes`
nodes and ROWS fields a table; what is left out is one "+N more" node.

SVG is made outside the container: Graphviz's `dot` when it is on PATH, else
`graphviz-pure` (a PyPI dependency of ljprof: a static Rust port of Graphviz,
EPL-2.0 like Graphviz, a 6 MB wheel); else the .dot is kept and the report
says how to render it.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from dataclasses import dataclass

from ljprof.profilers.snapshot.diff import short_source
from ljprof.profilers.snapshot.parse import Edges, Snapshot

ROWS = 12
RENDERERS = ("dot", "graphviz-pure")


@dataclass(frozen=True)
class Picture:
    dot: str
    svg: str  # '' when no renderer was found or it failed
    renderer: str  # which program made the SVG, or why there is none
    nodes: int
    left_out: int


def _q(text: str) -> str:
    return html.escape(text, quote=True)


def _title(snap: Snapshot, i: int) -> str:
    kind, info = snap.kind(i), snap.info[i]
    if kind == "function":
        return f"function {short_source(info)}"
    if kind == "string":
        return f'"{info}"'
    return f"{kind} {snap.address(i)}"


def _edge_text(label: str) -> str:
    kind, rest = label[:1], label[1:]
    return {".": rest, "[": f"[{rest}]", "{": f"key {rest}", "^": f"upvalue {rest}", "#": "metatable",
            "&": "env", "<": "constant"}.get(kind, rest)


def _drawable(out: list[tuple[int, str, bool]]) -> list[tuple[int, str, bool]]:
    """A node's edges worth drawing: no string keys (the field says them), ROWS fields at most."""
    fields = [e for e in out if e[1][:1] in ".[" or (e[1][:1] == "{" and e[1] != "{key")][:ROWS]
    return fields + [e for e in out if e[1][:1] not in ".[{"]


def build_dot(snap: Snapshot, edges: Edges, root: int, depth: int,
              max_nodes: int) -> tuple[str, int, int]:
    """DOT of what `root` references; returns (dot, nodes drawn, objects left out)."""
    order, level = [root], {root: 0}
    head, left_out = 0, 0
    while head < len(order):
        i = order[head]
        head += 1
        if level[i] >= depth:
            continue
        for to, _label, _weak in _drawable(edges.get(i)):
            if to in level:
                continue
            if len(order) >= max_nodes:
                left_out += 1
                continue
            level[to] = level[i] + 1
            order.append(to)
    drawn = set(order)
    lines = ["digraph heap {", '  graph [rankdir=LR, fontname="Helvetica", bgcolor="white"];',
             '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];']
    for i in order:
        kind = snap.kind(i)
        out = _drawable(edges.get(i))
        if kind == "table":
            rows = [f'<tr><td colspan="2" bgcolor="#dde8f5"><b>{_q(_title(snap, i))}</b></td></tr>']
            fields = [(to, label) for to, label, _w in out if label[:1] in ".[{"]
            for n, (_to, label) in enumerate(fields):
                rows.append(f'<tr><td align="left">{_q(_edge_text(label)[:30])}</td><td port="p{n}">•</td></tr>')
            more = len(edges.get(i)) - len(out)
            if more > 0:
                rows.append(f'<tr><td colspan="2"><i>{more} more edges</i></td></tr>')
            lines.append(f'  n{i} [shape=plaintext, label=<<table border="0" cellborder="1" cellspacing="0">'
                         f'{"".join(rows)}</table>>];')
            for n, (to, label) in enumerate(fields):
                if to in drawn:
                    style = ", style=dashed" if label[:1] == "{" else ""
                    lines.append(f"  n{i}:p{n} -> n{to} [{style.lstrip(', ')}];")
            for to, label, _weak in out:
                if label[:1] not in ".[{" and to in drawn:
                    lines.append(f'  n{i} -> n{to} [label="{_q(_edge_text(label))}", style=dashed];')
            continue
        shape = {"function": "ellipse", "string": "note", "thread": "hexagon"}.get(kind, "box")
        lines.append(f'  n{i} [shape={shape}, label="{_q(_title(snap, i))}"];')
        for to, label, weak in out:
            if to in drawn:
                style = ", style=dotted" if weak else ""
                lines.append(f'  n{i} -> n{to} [label="{_q(_edge_text(label))}"{style}];')
    if left_out:
        lines.append(f'  more [shape=box, style="rounded,filled", fillcolor="#f3e2c7", label="+{left_out} more"];')
        lines.append(f"  n{root} -> more [style=dotted];")
    lines.append("}")
    return "\n".join(lines) + "\n", len(order), left_out


def render_svg(dot: str) -> tuple[str, str]:
    """(svg, renderer): `dot` or `graphviz-pure` from PATH; ('', why) when neither is there or both fail."""
    for program in RENDERERS:
        exe = shutil.which(program)
        if exe is None:
            continue
        try:
            done = subprocess.run([exe, "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return "", f"{program} failed: {exc}"
        if done.returncode == 0 and "<svg" in done.stdout:
            return done.stdout[done.stdout.index("<svg"):], program
        return "", f"{program} failed: {done.stderr.strip()[:200]}"
    return "", "no Graphviz renderer: install Graphviz (dot) or pip install graphviz-pure, then `dot -Tsvg FILE.dot`"


def picture(snap: Snapshot, edges: Edges, root: int, depth: int,
            max_nodes: int) -> Picture:
    dot, nodes, left_out = build_dot(snap, edges, root, depth, max_nodes)
    svg, renderer = render_svg(dot)
    return Picture(dot, svg, renderer, nodes, left_out)
