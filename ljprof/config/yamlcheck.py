"""Checking YAML against a schema on PyYAML's node tree, so every value keeps its position.

The Walker collects errors of the form
`file:line:col: key.path: problem` with an optional `hint:` line, and goes on
after each, so one run reports every problem in a file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

KeyPath = tuple[str | int, ...]


def format_keypath(path: KeyPath) -> str:
    """`('images', 'default', 'rocks', 1)` -> `images.default.rocks[1]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def describe(node: Node) -> str:
    """How a value reads in an error: its text and its YAML kind."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    kind = node.tag.rsplit(":", 1)[-1]
    if kind == "null":
        return "nothing (null)"
    if kind == "str":
        return f"'{node.value}'"
    return f"{node.value} (a {_KIND_NAMES.get(kind, kind)})"


_KIND_NAMES = {"int": "number", "float": "number", "bool": "boolean", "timestamp": "date"}


@dataclass
class Walker:
    """Collects errors against one file while reading its node tree."""

    filename: str
    errors: list[tuple[int, int, str]] = field(default_factory=list)

    def error(self, node: Node, path: KeyPath, problem: str, hint: str = "") -> None:
        mark = node.start_mark
        text = f"{self.filename}:{mark.line + 1}:{mark.column + 1}: {format_keypath(path)}: {problem}"
        if hint:
            text += f"\n  hint: {hint}"
        self.errors.append((mark.line, mark.column, text))

    def mapping(
        self, node: Node, path: KeyPath, allowed: tuple[str, ...], hint: str = ""
    ) -> dict[str, tuple[Node, Node]] | None:
        """The mapping's entries as {key: (key node, value node)}; None if not a mapping."""
        if not isinstance(node, MappingNode):
            self.error(node, path, f"expected a mapping, got {describe(node)}", hint)
            return None
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in _flatten_merges(node):
            if not isinstance(key_node, ScalarNode) or key_node.tag.endswith(":null"):
                self.error(key_node, path, f"keys must be names, got {describe(key_node)}")
                continue
            key = str(key_node.value)
            if key in entries:
                first = entries[key][0].start_mark.line + 1
                self.error(key_node, (*path, key), f"duplicate key (first given on line {first})")
                continue
            if allowed and key not in allowed:
                self.error(key_node, path, f"unknown key '{key}'", suggest(key, allowed))
                continue
            entries[key] = (key_node, value_node)
        return entries

    def string(self, node: Node, path: KeyPath, pattern: re.Pattern[str] | None = None,
               what: str = "") -> str | None:
        """A non-empty string; with `pattern`, one that matches it (`what` says what that is)."""
        if not isinstance(node, ScalarNode) or not node.tag.endswith(":str"):
            self.error(node, path, f"expected {what or 'a string'}, got {describe(node)}")
            return None
        value = str(node.value)
        if not value.strip():
            self.error(node, path, f"expected {what or 'a string'}, got an empty string")
            return None
        if pattern is not None and not pattern.match(value):
            self.error(node, path, f"'{value}' is not {what}")
            return None
        return value

    def choice(self, node: Node, path: KeyPath, choices: tuple[str, ...]) -> str | None:
        value = self.string(node, path, what=f"one of: {', '.join(choices)}")
        if value is not None and value not in choices:
            self.error(node, path, f"'{value}' is not allowed; use one of: {', '.join(choices)}",
                       suggest(value, choices, listing=False))
            return None
        return value

    def string_list(self, node: Node, path: KeyPath, item: Callable[[Node, KeyPath], str | None],
                    ) -> tuple[str, ...] | None:
        """A list of strings, each checked by `item`; a repeated entry is an error."""
        if not isinstance(node, SequenceNode):
            self.error(node, path, f"expected a list, got {describe(node)}",
                       "write one item per line, each after '- ', or [a, b] on one line")
            return None
        values: list[str] = []
        for index, child in enumerate(node.value):
            value = item(child, (*path, index))
            if value is None:
                continue
            if value in values:
                self.error(child, (*path, index), f"'{value}' is listed twice")
                continue
            values.append(value)
        return tuple(values)


def _flatten_merges(node: MappingNode) -> Iterator[tuple[Node, Node]]:
    """Entries of a mapping with YAML merge keys (`<<: *anchor`) expanded.

    Keys written in the mapping win over merged ones, as in YAML 1.1.
    """
    own = [(k, v) for k, v in node.value if not (isinstance(k, ScalarNode) and k.tag.endswith(":merge"))]
    own_keys = {k.value for k, _ in own if isinstance(k, ScalarNode)}
    yield from own
    for key, value in node.value:
        if not (isinstance(key, ScalarNode) and key.tag.endswith(":merge")):
            continue
        sources = value.value if isinstance(value, SequenceNode) else [value]
        for source in sources:
            if isinstance(source, MappingNode):
                for k, v in _flatten_merges(source):
                    if isinstance(k, ScalarNode) and k.value not in own_keys:
                        own_keys.add(k.value)
                        yield k, v
            else:
                yield key, value  # reported as a bad key by the caller


def suggest(word: str, allowed: tuple[str, ...], listing: bool = True) -> str:
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else ""
    if listing:
        known = f"allowed keys: {', '.join(sorted(allowed))}"
        hint = f"{hint} {known}" if hint else known
    return hint
