"""Budgets: limits on a run's figures (profiles.yml `budgets:`), checked after its reports.

Each budget gives an absolute limit (`live_bytes: 50KB`) and/or a regression
against a baseline run (`{regression: 10%}`: at most 10% worse than the
base). Every figure is read through ljprof.figures, from summary.json. A
verdict is `ok`, `broken`, `not measured` (the run lacks the figure: said,
never a failure) or `no baseline` (a relative budget without --base). A
broken budget makes `invoke profile` and `invoke budgets` exit with
BudgetBroken's code (7); summary.json gets the verdicts under `budgets` and
summary.md a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from ljprof.compare.match import pair_rows
from ljprof.compare.output import save
from ljprof.compare.runs import Run
from ljprof.config.model import Budget
from ljprof.errors import BudgetBroken
from ljprof.figures import FIGURES, NOT_MEASURED, SITES, format_value, rows_of, value
from ljprof.reporting.markdown import md_text
from ljprof.reporting.render import write_atomically
from ljprof.reporting.summary import SummaryJson

OK, BROKEN, NOT_MEASURED_VERDICT, NO_BASELINE = "ok", "broken", "not measured", "no baseline"
MD_START = "<!-- ljprof budgets -->"


@dataclass(frozen=True)
class Verdict:
    budget: str  # the figure's name
    kind: str  # max | regression
    limit: float | None  # in the figure's unit; a regression's limit is base x (1 + regression)
    limit_text: str  # "50KB", "+10% of 274 KB"
    figure: float | None
    verdict: str
    site: str = ""  # site budgets: the site the figure is from
    base: float | None = None  # relative budgets: the base's figure
    note: str = ""

    @property
    def unit(self) -> str:
        return FIGURES[self.budget].unit


def _site(run: Run) -> tuple[str, float | None]:
    """The site holding the most live bytes at the end, and its bytes."""
    rows = [r for r in rows_of(run.summary, SITES) if isinstance(r.get("live_bytes"), (int, float))]
    if not rows:
        return "", None
    top = max(rows, key=lambda r: r["live_bytes"])
    return str(top["key"]), float(top["live_bytes"])


def _base_site(base: Run, head: Run, site: str) -> tuple[float | None, str]:
    """The base's live bytes of the head's site (matched by location, else source text)."""
    for pair in pair_rows(rows_of(base.summary, SITES), rows_of(head.summary, SITES), base.sources, head.sources):
        if pair.head is not None and pair.key == site:
            if pair.base is None:
                return 0.0, "a new site: not among the base's top sites"
            moved = f" (was {pair.base['key']})" if pair.matched_by == "source text" else ""
            return float(pair.base["live_bytes"] or 0), moved
    return None, ""


def check(head: Run, budgets: Sequence[Budget], base: Run | None = None) -> list[Verdict]:
    """Every budget's verdicts on `head` (one per limit: max, regression)."""
    out = []
    for budget in budgets:
        unit = FIGURES[budget.figure].unit
        site = ""
        if budget.figure == "site_live_bytes":
            site, figure = _site(head)
        else:
            figure = value(head.summary, budget.figure)
        if budget.limit is not None:
            verdict = NOT_MEASURED_VERDICT if figure is None else OK if figure <= budget.limit else BROKEN
            out.append(Verdict(budget.figure, "max", budget.limit, budget.text or format_value(unit, budget.limit),
                               figure, verdict, site, note=NOT_MEASURED if figure is None else ""))
        if budget.regression is not None:
            out.append(_relative(budget, budget.regression, head, base, figure, site))
    return out


def _relative(budget: Budget, regression: float, head: Run, base: Run | None, figure: float | None,
              site: str) -> Verdict:
    unit = FIGURES[budget.figure].unit
    text = f"+{100 * regression:g}% of the base"
    if base is None:
        return Verdict(budget.figure, "regression", None, text, figure, NO_BASELINE, site,
                       note="no baseline run given (--base): only absolute budgets are checked")
    note = ""
    if budget.figure == "site_live_bytes":
        base_value, note = _base_site(base, head, site) if site else (None, "")
    else:
        base_value = value(base.summary, budget.figure)
    if figure is None or base_value is None:
        which = "this run" if figure is None else "the baseline run"
        return Verdict(budget.figure, "regression", None, text, figure, NOT_MEASURED_VERDICT, site, base_value,
                       f"not measured in {which}")
    limit = base_value + regression * abs(base_value)
    text = f"+{100 * regression:g}% of {format_value(unit, base_value)}"
    return Verdict(budget.figure, "regression", limit, text, figure, OK if figure <= limit else BROKEN, site,
                   base_value, note.strip())


def broken(verdicts: Sequence[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.verdict == BROKEN]


def _figure_text(v: Verdict) -> str:
    return "-" if v.figure is None else format_value(v.unit, v.figure)


def table_lines(verdicts: Sequence[Verdict]) -> list[str]:
    """The console's table: budget, limit, figure, verdict (and the site)."""
    rows = [(f"{v.budget}" + (" (regression)" if v.kind == "regression" else ""), v.limit_text, _figure_text(v),
             v.verdict.upper() if v.verdict == BROKEN else v.verdict,
             "; ".join(x for x in (f"site {v.site}" if v.site else "", v.note) if x)) for v in verdicts]
    header = ("budget", "limit", "figure", "verdict", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    return ["  " + "  ".join(c.ljust(widths[i]) if i < 4 else c for i, c in enumerate(r)).rstrip()
            for r in [header, *rows]]


def markdown(verdicts: Sequence[Verdict], base: Run | None) -> str:
    n = len(broken(verdicts))
    head = f"❌ {n} budget(s) broken" if n else "✅ every budget holds"
    against = f" (baseline: {md_text(base.profile)} · {md_text(base.run_id)})" if base else ""
    lines = [MD_START, f"#### budgets: {head}{against}", "", "| budget | limit | figure | verdict | site |",
             "| --- | --- | ---: | --- | --- |"]
    for v in verdicts:
        mark = {OK: "✅ ok", BROKEN: "❌ broken"}.get(v.verdict, f"❔ {v.verdict}")
        kind = " (regression)" if v.kind == "regression" else ""
        site = f"`{md_text(v.site)}`" if v.site else ""
        note = f" ({md_text(v.note)})" if v.note else ""
        lines.append(f"| {v.budget}{kind} | {md_text(v.limit_text)} | {_figure_text(v)} | {mark}{note} | {site} |")
    return "\n".join(lines) + "\n"


def summary_json(verdicts: Sequence[Verdict], base: Run | None) -> dict[str, Any]:
    """summary.json's `budgets`: ok (no budget broken), the baseline, and each verdict."""
    return {"ok": not broken(verdicts), "base": None if base is None else {"dir": str(base.path),
                                                                          "run_id": base.run_id},
            "verdicts": [asdict(v) for v in verdicts]}


def record(head: Run, verdicts: Sequence[Verdict], base: Run | None) -> None:
    """Write the verdicts into the run's summary.json (`budgets`) and summary.md (a table at the end,
    replacing one an earlier check wrote)."""
    data = dict(head.summary)
    data["budgets"] = summary_json(verdicts, base)
    write_atomically(head.path / "summary.json", SummaryJson(data).render)
    md_path = head.path / "summary.md"
    text = md_path.read_text(encoding="utf-8") if md_path.is_file() else ""
    if MD_START in text:
        text = text[:text.index(MD_START)]
    text = (text.rstrip("\n") + "\n\n" if text else "") + markdown(verdicts, base)
    save(md_path, text)


def report(head: Run, budgets: Sequence[Budget], base: Run | None, out: TextIO) -> list[Verdict]:
    """Check, print the table, record the verdicts; raise BudgetBroken naming the broken ones."""
    if not budgets:
        out.write("budgets: none in this profile\n")
        return []
    verdicts = check(head, budgets, base)
    out.write(f"budgets{f' (baseline {base.profile}@{base.run_id})' if base else ''}:\n")
    out.write("\n".join(table_lines(verdicts)) + "\n")
    record(head, verdicts, base)
    bad = broken(verdicts)
    if bad:
        names = ", ".join(f"{v.budget}{' (regression)' if v.kind == 'regression' else ''}: "
                          f"{_figure_text(v)} > {v.limit_text}" + (f" at {v.site}" if v.site else "") for v in bad)
        raise BudgetBroken(f"{len(bad)} budget(s) broken: {names}\n  run directory: {head.path}", head.path)
    return verdicts
