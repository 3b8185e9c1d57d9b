"""Text for markdown (summary.md, compare.md, the budgets' table), one way everywhere."""

from __future__ import annotations


def md_text(text: object) -> str:
    """Text for a markdown line or table cell: no raw HTML, no table breaks."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def md_code(text: object) -> str:
    """Text as a code span in a markdown table cell (a backtick inside becomes ')."""
    return "`" + str(text).replace("`", "'").replace("|", "\\|") + "`"
