"""A differential flame graph from two runs' folded stacks, as Brendan Gregg's difffolded.pl + flamegraph.pl.

Widths are the head's samples; each box is coloured by how its share of the
samples changed: the base's counts are first scaled to the head's total
(difffolded.pl -n), so runs of different lengths compare; red grew, blue
shrank, white stayed. Stacks only in the base have no width in the head and
are not drawn (the table of frames lists them). A base frame whose line moved
(same source text, ljprof.compare.match) takes the head's name first, so a
change above a function does not recolour everything under it. The graph is one inline SVG
with a tooltip per box: no script, no network.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from ljprof.compare.match import pair_rows
from ljprof.compare.runs import Json, Run
from ljprof.figures import folded_file
from ljprof.reporting.flame import merge

WIDTH = 1200.0
ROW = 17
MIN_WIDTH = 0.4  # px: narrower boxes are left out


@dataclass
class Node:
    name: str
    head: int = 0  # samples through this frame in the head
    base: float = 0.0  # in the base, scaled to the head's total
    children: dict[str, Node] = field(default_factory=dict)

    def child(self, name: str) -> Node:
        if name not in self.children:
            self.children[name] = Node(name)
        return self.children[name]


def read_folded(path: Path) -> dict[tuple[str, ...], int]:
    """`a;b;c N` lines -> {(a, b, c): N}; lines that are not that are skipped."""
    pairs = (line.rpartition(" ") for line in path.read_text(encoding="utf-8", errors="replace").splitlines())
    return merge((tuple(stack.split(";")), int(count)) for stack, _, count in pairs if stack and count.isdigit())


@dataclass
class FlameDiff:
    source: str = ""  # the folded file's name (cpu.folded, sysprof.folded)
    note: str = ""
    base_samples: int = 0
    head_samples: int = 0
    root: Node = field(default_factory=lambda: Node("all"))

    @classmethod
    def of(cls, base: Run, head: Run) -> FlameDiff:
        b, h = folded_file(base.path), folded_file(head.path)
        if b is None or h is None:
            which = "neither run" if b is None and h is None else "the base" if b is None else "the head"
            return cls(note=f"no folded stacks (cpu or sysprof) in {which}: not measured in this run")
        base_stacks, head_stacks = read_folded(b), read_folded(h)
        frames = [{"key": f} for f in sorted({f for stack in head_stacks for f in stack})]
        old = [{"key": f} for f in sorted({f for stack in base_stacks for f in stack})]
        renamed = {str(p.base["key"]): p.key for p in pair_rows(old, frames, base.sources, head.sources)
                   if p.matched_by == "source text" and p.base is not None}
        moved = merge((tuple(renamed.get(f, f) for f in stack), count) for stack, count in base_stacks.items())
        return cls.from_stacks(moved, head_stacks, source=h.name)

    @classmethod
    def from_stacks(cls, base: dict[tuple[str, ...], int], head: dict[tuple[str, ...], int],
                    source: str = "") -> FlameDiff:
        diff = cls(source=source, base_samples=sum(base.values()), head_samples=sum(head.values()))
        if not diff.base_samples or not diff.head_samples:
            diff.note = "no samples in " + ("the base" if not diff.base_samples else "the head")
            return diff
        scale = diff.head_samples / diff.base_samples
        for stack, count in head.items():
            node = diff.root
            node.head += count
            for frame in stack:
                node = node.child(frame)
                node.head += count
        for stack, count in base.items():
            node = diff.root
            node.base += count * scale
            for frame in stack:
                if frame not in node.children:
                    break  # only in the base: no width in the head
                node = node.children[frame]
                node.base += count * scale
        return diff

    def changes(self, n: int = 10) -> list[Json]:
        """The frames whose own (self) share changed most, growth first: [{stack, head_pct, base_pct, delta_pp}]."""
        rows: list[Json] = []

        def walk(node: Node, path: tuple[str, ...]) -> None:
            own_h = node.head - sum(c.head for c in node.children.values())
            own_b = node.base - sum(c.base for c in node.children.values())
            if path:
                rows.append({"stack": ";".join(path), "head_pct": round(100 * own_h / self.head_samples, 2),
                             "base_pct": round(100 * own_b / self.head_samples, 2),
                             "delta_pp": round(100 * (own_h - own_b) / self.head_samples, 2)})
            for child in node.children.values():
                walk(child, (*path, child.name))
        if self.head_samples and self.base_samples:
            walk(self.root, ())
        rows.sort(key=lambda r: (-abs(r["delta_pp"]), r["stack"]))
        return rows[:n]

    def summary(self) -> Json:
        out: Json = {"source": self.source or None, "base_samples": self.base_samples,
                     "head_samples": self.head_samples, "changes": self.changes()}
        if self.note:
            out["note"] = self.note
        return out

    def svg(self) -> str:
        """The graph as inline SVG (root at the bottom); '' when there is nothing to draw."""
        if self.note or not self.root.head:
            return ""
        depth = _depth(self.root)
        height = (depth + 1) * ROW
        top = max((abs(n.head - n.base) for n in _nodes(self.root)), default=1.0) or 1.0
        parts: list[str] = []
        self._boxes(self.root, 0.0, depth, WIDTH / self.root.head, top, parts)
        return (f'<svg class="diff-flame" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0f} {height}" '
                f'width="100%" font-family="monospace" font-size="11">\n' + "\n".join(parts) + "\n</svg>")

    def _boxes(self, node: Node, x: float, level: int, px: float, top: float, parts: list[str]) -> None:
        width = node.head * px
        if width < MIN_WIDTH:
            return
        y = level * ROW
        delta = node.head - node.base
        pct_h, pct_b = 100 * node.head / self.head_samples, 100 * node.base / self.head_samples
        tip = (f"{node.name}\nhead: {node.head:,} samples ({pct_h:.2f}%); base: {pct_b:.2f}% (scaled); "
               f"change {pct_h - pct_b:+.2f} pp")
        e = html.escape
        label = node.name if width > 7 * len(node.name) else node.name[:max(0, int(width / 7) - 2)] + ".."
        text = f'<text x="{x + 3:.1f}" y="{y + 12}">{e(label)}</text>' if width > 28 else ""
        parts.append(f'<g><title>{e(tip)}</title><rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{ROW - 1}" '
                     f'fill="{_colour(delta / top)}"/>{text}</g>')
        for child in sorted(node.children.values(), key=lambda c: c.name):
            self._boxes(child, x, level - 1, px, top, parts)
            x += child.head * px


def _colour(change: float) -> str:
    """-1 (shrank most) blue .. 0 white .. 1 (grew most) red."""
    fade = round(255 - 190 * min(1.0, abs(change)))
    return f"rgb(255,{fade},{fade})" if change > 0 else f"rgb({fade},{fade},255)"


def _nodes(node: Node) -> list[Node]:
    out = [node]
    for child in node.children.values():
        out += _nodes(child)
    return out


def _depth(node: Node) -> int:
    return 1 + max((_depth(c) for c in node.children.values()), default=0) if node.children else 0
