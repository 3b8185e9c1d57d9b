"""Numbers as the reports write them: sizes in KB/MB, rates, durations, counts.

One place, so the console, index.html and summary.md say "8,335 KB" the same way.
"""

from __future__ import annotations

import math


def format_kb(kb: float) -> str:
    """A size given in KB: "412 KB", "8,335 KB" (KB up to 10,000 for precision), "19.4 MB", "1.2 GB"."""
    if not math.isfinite(kb):
        return "?"
    if abs(kb) < 10_000:
        return f"{kb:,.0f} KB"
    if abs(kb) < 10_000 * 1024:
        return f"{kb / 1024:,.1f} MB"
    return f"{kb / 1024 / 1024:,.1f} GB"


def format_kb_range(low: float, high: float) -> str:
    """Two sizes in one unit: "8,310-8,350 KB", "12.1-12.4 MB"."""
    if max(abs(low), abs(high)) < 10_000:
        return f"{low:,.0f}-{high:,.0f} KB"
    return f"{low / 1024:,.1f}-{high / 1024:,.1f} MB"


def format_kb_pair(a: float, b: float) -> tuple[str, str]:
    """Two sizes in the unit the larger takes, for "from A to B": ("8,740 KB", "9,900 KB"), ("8.5 MB", "10.4 MB")."""
    high = max(abs(a), abs(b))
    if high < 10_000:
        return f"{a:,.0f} KB", f"{b:,.0f} KB"
    if high < 10_000 * 1024:
        return f"{a / 1024:,.1f} MB", f"{b / 1024:,.1f} MB"
    return f"{a / 1024 / 1024:,.1f} GB", f"{b / 1024 / 1024:,.1f} GB"


def format_kb_per_min(rate: float, *, sign: bool = False) -> str:
    """A heap slope: "3.9 MB/min", "+310 KB/min" (with `sign`), "-1.2 MB/min"."""
    plus = "+" if sign else ""
    if abs(rate) < 1000:
        value = round(rate)
        return "0 KB/min" if value == 0 else f"{value:{plus},} KB/min"
    return f"{rate / 1024:{plus},.1f} MB/min"


def format_kb_per_s(rate: float) -> str:
    """An allocation rate: "640 KB/s", "3.4 MB/s"."""
    if abs(rate) < 1000:
        return f"{rate:,.0f} KB/s"
    return f"{rate / 1024:,.1f} MB/s"


def format_bytes_short(count: float) -> str:
    """A limit in bytes as people write it: "1 GB", "256 MB", "1.5 GB" (binary units)."""
    value = float(count)
    for unit in ("B", "KB", "MB"):
        if abs(value) < 1024:
            return f"{round(value, 2):g} {unit}"
        value /= 1024
    return f"{round(value, 2):g} GB"


def human_bytes(count: int) -> str:
    """A size for people: "812 B", "9.5 KB", "251 KB", "1.2 MB" (1 KB = 1024 B)."""
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            break
        value /= 1024
    if unit == "B":
        return f"{count} B"
    return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"


def format_seconds(seconds: float) -> str:
    """A duration: "0.45 s", "4.4 s", "95 s", "10 min 5 s"."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 600:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def plural(count: int, word: str, words: str | None = None) -> str:
    """ "1 trace", "24 traces" (with thousands separators)."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"
