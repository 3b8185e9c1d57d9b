"""The comparison as console text, compare.md (under 64 KB, for a job summary or a PR comment) and
compare.html (self-contained: the page shell's CSS inlined, the differential flame graph as inline SVG)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ljprof import __version__
from ljprof.compare.flamediff import FlameDiff
from ljprof.compare.runs import Json
from ljprof.figures import format_value
from ljprof.reporting.markdown import md_code, md_text
from ljprof.reporting.page import asset
from ljprof.reporting.render import write_atomically

MARKDOWN_LIMIT = 64 * 1024
TEXT_ROWS = 10
MD_ROWS = 15

# each table: (compare.json key, title, key column, numbers shown: (field, unit))
TABLES: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("sites", "memprof sites: live bytes at the end", "site",
     (("live_bytes", "bytes"), ("allocs", "count"), ("peak_bytes", "bytes"))),
    ("frames", "CPU frames: share of samples", "frame", (("self_pct", "pct"), ("total_pct", "pct"))),
    ("aborts", "trace aborts per line", "line", (("count", "count"),)),
    ("retained", "retained objects per snapshot group", "group", (("count", "count"), ("bytes", "bytes"))),
)


def save(path: Path, text_: str) -> Path:
    """Write a whole file under a temporary name, then rename it into place."""
    def render(f: TextIO) -> None:
        f.write(text_)
    return write_atomically(path, render)


def _num(unit: str, value: object, sign: bool = False) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    if unit == "pct":
        return f"{value:+.2f} pp" if sign else f"{value:.2f}%"
    return format_value(unit, float(value), sign=sign)


def _how(row: Json) -> str:
    if row["matched_by"] == "source text":
        return f"moved from {row['base_key']} (same source line)"
    return {"new": "new (not among the base's top rows)",
            "gone": "gone (not among the head's top rows)"}.get(row["matched_by"], "")


def _growing(row: Json) -> str:
    g = row.get("growing")
    if not g or (g["base"] is None and g["head"] is None):
        return ""
    word = {True: "growing", False: "not growing", None: "?"}
    return f"{word[g['base']]} -> {word[g['head']]}" if g["base"] != g["head"] else word[g["head"]]


def title(data: Json) -> str:
    b, h = data["base"], data["head"]
    return f"compare {b['profile']}@{b['run_id']} (base) -> {h['profile']}@{h['run_id']} (head)"


def text(data: Json, out: TextIO) -> None:
    """The console's summary: differences, figures, then each table's first rows."""
    out.write(title(data) + "\n")
    for note in data["notes"]:
        out.write(f"  note: {note}\n")
    out.write("figures (base -> head, change):\n")
    for f in data["figures"]:
        if "note" in f and f["base"] is None and f["head"] is None:
            continue
        change = f" ({f['change_pct']:+.1f}%)" if f["change_pct"] is not None else ""
        tail = f"  [{f['note']}]" if "note" in f else ""
        b, h = format_value(f["unit"], f["base"]), format_value(f["unit"], f["head"])
        out.write(f"  {f['name']:<16} {b:>14} -> {h:>14}  {format_value(f['unit'], f['delta'], sign=True)}"
                  f"{change}{tail}\n")
    for key, name, _, numbers in TABLES:
        table = data[key]
        if "note" in table:
            out.write(f"{name}: {table['note']}\n")
            continue
        if not table["rows"]:
            continue
        out.write(f"{name} (growth first):\n")
        field, unit = numbers[0]
        for row in table["rows"][:TEXT_ROWS]:
            v = row[field]
            extra = ", ".join(x for x in (_how(row), _growing(row)) if x)
            out.write(f"  {_num(unit, v['delta'], sign=True):>14}  {row['key']}  ({_num(unit, v['base'])} -> "
                      f"{_num(unit, v['head'])}{'; ' + extra if extra else ''})\n")
        if table.get("moved"):
            out.write(f"  {table['moved']} row(s) matched by source text: their line moved\n")
    flame = data["flame"]
    if "note" in flame:
        out.write(f"differential flame graph: {flame['note']}\n")


def markdown(data: Json) -> str:
    """compare.md: the same content, at most MD_ROWS rows per table, cut to MARKDOWN_LIMIT bytes."""
    b, h = data["base"], data["head"]
    lines = [f"### ljprof compare: {md_text(h['profile'])} · {md_text(h['run_id'])} against {md_text(b['profile'])} · "
             f"{md_text(b['run_id'])}", ""]
    lines += [f"> ⚠️ {md_text(n)}" for n in data["notes"]] + ([""] if data["notes"] else [])
    lines += ["| figure | base | head | change |", "| --- | ---: | ---: | ---: |"]
    for f in data["figures"]:
        change = format_value(f["unit"], f["delta"], sign=True) + (
            f" ({f['change_pct']:+.1f}%)" if f["change_pct"] is not None else "")
        if "note" in f:
            change = md_text(f["note"])
        lines.append(f"| {f['name']} | {format_value(f['unit'], f['base'])} | {format_value(f['unit'], f['head'])} "
                     f"| {change} |")
    lines.append("")
    for key, name, column, numbers in TABLES:
        table = data[key]
        lines.append(f"**{name}**" + (f": {md_text(table['note'])}" if "note" in table else ""))
        lines.append("")
        if "note" in table or not table["rows"]:
            continue
        head = " | ".join(f"{f} base | {f} head | {f} change" for f, _ in numbers)
        lines += [f"| {column} | {head} | note |", "| --- |" + " ---: |" * (3 * len(numbers)) + " --- |"]
        for row in table["rows"][:MD_ROWS]:
            cells = " | ".join(f"{_num(u, row[f]['base'])} | {_num(u, row[f]['head'])} | "
                               f"{_num(u, row[f]['delta'], sign=True)}" for f, u in numbers)
            note = "; ".join(x for x in (_how(row), _growing(row)) if x)
            lines.append(f"| {md_code(row['key'])} | {cells} | {md_text(note)} |")
        if len(table["rows"]) > MD_ROWS:
            lines.append(f"\n*{len(table['rows']) - MD_ROWS} more rows in compare.json and compare.html*")
        if table.get("moved"):
            lines.append(f"\n*{table['moved']} row(s) matched by their source text: code above them moved their line*")
        lines.append("")
    flame = data["flame"]
    lines.append("**differential flame graph**" + (f": {md_text(flame['note'])}" if "note" in flame else
                 f" ({md_text(flame['source'])}; {flame['base_samples']:,} -> {flame['head_samples']:,} samples): "
                 "in compare.html; the frames whose own share changed most:"))
    if "note" not in flame and flame["changes"]:
        lines += ["", "| frame (leaf of the stack) | base | head | change |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {md_code(c['stack'].rsplit(';', 1)[-1])} | {c['base_pct']:.2f}% | {c['head_pct']:.2f}% | "
                  f"{c['delta_pp']:+.2f} pp |" for c in flame["changes"][:MD_ROWS]]
    text_out = "\n".join(lines) + "\n"
    if len(text_out.encode("utf-8")) > MARKDOWN_LIMIT:
        cut = text_out.encode("utf-8")[:MARKDOWN_LIMIT - 200].decode("utf-8", "ignore")
        text_out = cut[:cut.rfind("\n") + 1] + "\n*cut here: a comment holds 64 KB; see compare.html*\n"
    return text_out


def _table_html(key: str, name: str, column: str, numbers: Sequence[tuple[str, str]], table: Json) -> str:
    e = html.escape
    out = [f"<h2>{e(name)}</h2>"]
    if "note" in table:
        return out[0] + f'<p class="muted">{e(table["note"])}</p>'
    if not table["rows"]:
        return out[0] + '<p class="muted">no rows in either run</p>'
    heads = "".join(f"<th>{e(f)} base</th><th>{e(f)} head</th><th>change</th>" for f, _ in numbers)
    out.append(f'<table class="wide compare {e(key)}"><thead><tr><th>{e(column)}</th>{heads}<th>note</th>'
               f"<th>source line</th></tr></thead><tbody>")
    for row in table["rows"]:
        delta = row[numbers[0][0]]["delta"] or 0
        cls = "grew" if delta > 0 else "shrank" if delta < 0 else ""
        cells = "".join(f'<td class="num">{e(_num(u, row[f]["base"]))}</td><td class="num">{e(_num(u, row[f]["head"]))}'
                        f'</td><td class="num">{e(_num(u, row[f]["delta"], sign=True))}</td>' for f, u in numbers)
        note = "; ".join(x for x in (_how(row), _growing(row)) if x)
        out.append(f'<tr class="{cls}"><td><code>{e(row["key"])}</code></td>{cells}<td>{e(note)}</td>'
                   f'<td><code>{e(row.get("source", ""))}</code></td></tr>')
    out.append("</tbody></table>")
    if table.get("moved"):
        out.append(f'<p class="muted">{table["moved"]} row(s) matched by their source text (sources/ of both runs): '
                   "code above them moved their line number.</p>")
    return "\n".join(out)


CSS = """
table.compare tr.grew td:first-child { border-left: 4px solid #cf222e; }
table.compare tr.shrank td:first-child { border-left: 4px solid #1a7f37; }
table.compare td:last-child { min-width: 20em; max-width: 30em; }
table.compare td:last-child code { white-space: normal; word-break: break-word; }
svg.diff-flame rect { stroke: #fff; stroke-width: .5; }
svg.diff-flame text { pointer-events: none; }
.legend span { display: inline-block; padding: 0 .6em; margin-right: .4em; border: 1px solid #d0d7de; }
"""


def _figure_html(f: Json) -> str:
    e = html.escape
    change = f["note"] if "note" in f else format_value(f["unit"], f["delta"], sign=True) + (
        f" ({f['change_pct']:+.1f}%)" if f["change_pct"] is not None else "")
    cells = "".join(f'<td class="num">{e(format_value(f["unit"], f[k]))}</td>' for k in ("base", "head"))
    return f"<tr><td>{e(f['name'])}</td><td>{e(f['what'])}</td>{cells}<td class=\"num\">{e(change)}</td></tr>"


def page(data: Json, flame: FlameDiff) -> str:
    """compare.html: who is compared (and what differs), figures, the tables, the differential flame graph."""
    e = html.escape
    b, h = data["base"], data["head"]
    notes = "".join(f'<p class="warn">{e(n)}</p>' for n in data["notes"])
    facts = "".join(f"<tr><th>{e(k)}</th><td>{e(str(b[f] or '?'))}</td><td>{e(str(h[f] or '?'))}</td></tr>"
                    for k, f in (("profile", "profile"), ("run", "run_id"), ("image", "image"),
                                 ("LuaJIT commit", "luajit_commit"), ("directory", "dir")))
    figures = "".join(_figure_html(f) for f in data["figures"])
    tables = "\n".join(_table_html(k, n, c, nums, data[k]) for k, n, c, nums in TABLES)
    svg = flame.svg()
    if svg:
        flame_html = (f'<p class="muted">{e(flame.source)}: {flame.base_samples:,} samples in the base, '
                      f"{flame.head_samples:,} in the head. Widths: the head's samples; colour: the change of each "
                      "frame's share (the base scaled to the head's total, as difffolded.pl -n): "
                      '<span class="legend"><span style="background:rgb(255,65,65)">grew</span><span>same</span>'
                      '<span style="background:rgb(65,65,255);color:#fff">shrank</span></span> '
                      "Hover a box for its samples. Stacks only in the base are not drawn.</p>\n" + svg)
    else:
        flame_html = f'<p class="muted">{e(flame.note or "no samples")}</p>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title(data))}</title>
<style>
{asset("page.css")}
{CSS}
</style>
</head>
<body>
<header>
<h1>ljprof compare: {e(h['profile'])} against {e(b['profile'])}</h1>
<p class="muted">head {e(h['run_id'])}, base {e(b['run_id'])}; change = head - base. Made by ljprof {__version__}.</p>
</header>
<main>
{notes}
<table class="facts"><tr><th></th><th>base</th><th>head</th></tr>{facts}</table>
<h2>Figures</h2>
<table class="wide compare"><thead><tr><th>figure</th><th>what</th><th>base</th><th>head</th><th>change</th></tr>
</thead><tbody>{figures}</tbody></table>
<h2>Differential flame graph</h2>
{flame_html}
{tables}
</main>
</body>
</html>
"""
