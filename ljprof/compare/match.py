"""Pairing rows of two runs: by key (a site's location, a frame, a path), else by source text.

When code above a site changes, the site's line number moves: `@bot.lua:68`
in the base is `@bot.lua:71` in the head. So rows pair by key only when the
runs' kept sources (sources/) have the same text on that line (or one run
lacks it); rows left unpaired then pair when their keys differ only in the
line number and the source text is the same (the nearest such line wins).
Rows still unpaired are new (head only) or gone (base only).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ljprof.reporting.model import SourceLines

_LOCATION = re.compile(r"(?P<chunk>[@=]?[^\s:;\[\]]+):(?P<line>\d+)")

Row = dict[str, Any]


@dataclass(frozen=True)
class Pair:
    base: Row | None
    head: Row | None
    matched_by: str  # location, source text, new, gone
    source: str = ""  # the source line, when known

    @property
    def key(self) -> str:
        row = self.head if self.head is not None else self.base
        assert row is not None
        return str(row["key"])


def _place(key: str) -> tuple[str, str, int] | None:
    """(key with the line number blanked, chunk, line) for keys holding a Lua location."""
    m = _LOCATION.search(key)
    if m is None:
        return None
    shape = key[:m.start("line")] + "#" + key[m.end("line"):]
    return shape, m["chunk"], int(m["line"])


def source_of(key: str, sources: SourceLines) -> str:
    place = _place(key)
    if place is None:
        return ""
    return sources.line(place[1], place[2]) or ""


def pair_rows(base: Sequence[Row], head: Sequence[Row], base_sources: SourceLines,
              head_sources: SourceLines) -> list[Pair]:
    """Every row of both runs in one pair: head rows in their order, then base rows gone from the head."""
    by_key = {str(r["key"]): r for r in base}
    used: set[str] = set()
    pairs: list[Pair | None] = []
    unpaired: list[int] = []
    for row in head:
        key = str(row["key"])
        text = source_of(key, head_sources)
        before = source_of(key, base_sources)
        if key in by_key and key not in used and (text == before or not text or not before):
            used.add(key)
            pairs.append(Pair(by_key[key], row, "location", text))
        else:
            pairs.append(None)
            unpaired.append(len(pairs) - 1)
    for index in unpaired:
        row = head[index]
        key = str(row["key"])
        text = source_of(key, head_sources)
        place = _place(key)
        match = None
        if text and place is not None:
            candidates = [r for r in base if str(r["key"]) not in used and (p := _place(str(r["key"])))
                          and p[0] == place[0] and source_of(str(r["key"]), base_sources) == text]
            if candidates:
                match = min(candidates, key=lambda r: abs(_line(str(r["key"])) - place[2]))
        if match is not None:
            used.add(str(match["key"]))
            pairs[index] = Pair(match, row, "source text", text)
        else:
            pairs[index] = Pair(None, row, "new", text)
    gone = [Pair(r, None, "gone", source_of(str(r["key"]), base_sources)) for r in base if str(r["key"]) not in used]
    return [p for p in pairs if p is not None] + gone


def _line(key: str) -> int:
    place = _place(key)
    return place[2] if place else 0
