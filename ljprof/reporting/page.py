"""What every page of a run's reports shares: the Jinja environment, the inline
assets (page.css, timeline.js), and small HTML fragments for sections.

Pages are self-contained: CSS and JS are inlined, so a page opens from a
downloaded artifact with no network.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

ASSETS = Path(__file__).parent / "assets"
TEMPLATES = Path(__file__).parent / "templates"


@cache
def asset(name: str) -> str:
    """The text of one of reporting/assets/ (page.css, timeline.js)."""
    return (ASSETS / name).read_text(encoding="utf-8")


def environment(*folders: Path) -> jinja2.Environment:
    """A Jinja environment over `folders` and reporting/templates/, escaping everything it is not told is safe."""
    loader = jinja2.FileSystemLoader([*map(str, folders), str(TEMPLATES)])
    return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True)


def facts_table(rows: Sequence[tuple[str, str]]) -> Markup:
    """Label/value rows as a two-column table (escaped)."""
    body = Markup("").join(Markup("<tr><th>{}</th><td>{}</td></tr>\n").format(k, v) for k, v in rows)
    return Markup('<table class="facts">\n{}</table>\n').format(body)


def paragraph(text: str, cls: str = "") -> Markup:
    if cls:
        return Markup('<p class="{}">{}</p>\n').format(cls, text)
    return Markup("<p>{}</p>\n").format(text)
