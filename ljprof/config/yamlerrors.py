"""PyYAML's syntax errors in plain words, with line numbers.

PyYAML says what its parser expected (`expected <block end>, but found
'<block mapping start>'`, `mapping values are not allowed here`); a person
needs to hear what is wrong with their file: "line 9 is indented one space
more than the key above it (line 8)". The common mistakes (indentation, a
tab, an unclosed bracket or quote, a colon inside a value, an undefined
alias) are recognised from the problem and the file's text; anything else
keeps PyYAML's own words.
"""

from __future__ import annotations

import re

import yaml


def explain(exc: yaml.MarkedYAMLError, text: str, filename: str) -> str:
    """`file:line:col: not valid YAML: what is wrong` and a hint line, for a parse error of `text`."""
    mark = exc.problem_mark or exc.context_mark
    where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
    lines = text.splitlines()
    plain = _plain(exc, lines)
    if plain is not None:
        problem, hint = plain
        return f"{where}: not valid YAML: {problem}" + (f"\n  hint: {hint}" if hint else "")
    message = f"{where}: not valid YAML: {exc.problem or exc.context}"
    if exc.context and exc.context_mark and exc.problem:
        # e.g. "while parsing a block mapping" and where that mapping starts
        message += (f"\n  hint: {exc.context} that starts at line {exc.context_mark.line + 1}, "
                    f"column {exc.context_mark.column + 1}")
    return message


def _plain(exc: yaml.MarkedYAMLError, lines: list[str]) -> tuple[str, str] | None:
    """(problem, hint) in plain words, or None for an error this module does not know."""
    problem, context = exc.problem or "", exc.context or ""
    mark, start = exc.problem_mark, exc.context_mark
    if mark is None:
        return None
    n = mark.line + 1
    line = lines[mark.line] if mark.line < len(lines) else ""
    if "found character '\\t'" in problem:
        return (f"line {n} has a tab (column {mark.column + 1}): YAML indents with spaces, never tabs",
                "replace the tab with spaces")
    if problem.startswith("found undefined alias"):
        name = problem.rsplit(" ", 1)[-1].strip("'")
        return (f"line {n}: '*{name}' refers to an anchor '&{name}' that is not defined above it",
                "define the anchor first, or quote the value if it is text that starts with '*'")
    if start is not None and ("flow mapping" in context or "flow sequence" in context):
        opener, closer = ("{", "}") if "mapping" in context else ("[", "]")
        opened = f"the '{opener}' on line {start.line + 1} (column {start.column + 1})"
        if "<stream end>" in problem:
            return f"{opened} is never closed", f"add the missing '{closer}'"
        if mark.line != start.line:
            return f"{opened} is not closed before line {n}", f"add the missing '{closer}', or a ',' between its items"
        got = problem.rsplit("but got ", 1)[-1]
        return (f"line {n}, column {mark.column + 1}: {got} inside {opened}, where a ',' or '{closer}' belongs",
                "quote a value that contains ': ' or ',', e.g. {a: 'b: c'}" if got == "':'" else
                f"separate the items with ',' and end with '{closer}'")
    if "quoted scalar" in context and start is not None:
        if "unknown escape" in problem or "expected escape" in problem:
            return (f"line {n}: an unknown escape sequence in a double-quoted string",
                    "use single quotes for text with backslashes ('C:\\path'), or write '\\\\'")
        return (f"the quote on line {start.line + 1} (column {start.column + 1}) is never closed",
                "add the closing quote")
    if problem == "mapping values are not allowed here":
        before = line[:mark.column]
        if re.search(r":\s", before):
            return (f"line {n} has a second ': ' in one entry; YAML reads the text after it as another key",
                    "quote a value that contains ': ', e.g. key: 'a: b'")
        if not re.fullmatch(r"\s*(?:-\s+)?[^\s:#{}\[\],'\"][^:#{}\[\],]*", before):
            return None  # not a key at the start of its line: not about indentation
        return _indentation(lines, mark.line)
    stray = re.search(r"but found '([}\]])'", problem)
    if stray:
        opener = "{" if stray[1] == "}" else "["
        return (f"line {n}, column {mark.column + 1}: a '{stray[1]}' that closes nothing",
                f"remove it, or open its '{opener}' earlier")
    if problem.startswith(("expected <block end>", "did not find expected key",
                           "did not find expected '-' indicator")):
        if mark.column != _indent(line):
            return None  # not at the start of its line: not about indentation
        return _indentation(lines, mark.line)
    return None


def _indentation(lines: list[str], index: int) -> tuple[str, str] | None:
    """Line `index` against the nearest key above it: how many spaces more or less it is indented."""
    line = lines[index] if index < len(lines) else ""
    above = next((i for i in range(index - 1, -1, -1) if lines[i].strip() and not lines[i].lstrip().startswith("#")),
                 None)
    if above is None or not line.strip():
        return None
    mine, theirs = _indent(line), _indent(lines[above])
    if mine == theirs:
        return None
    spaces = abs(mine - theirs)
    amount = "one space" if spaces == 1 else f"{spaces} spaces"
    key = _key(line)
    problem = f"line {index + 1} is indented {amount} {'more' if mine > theirs else 'less'} than the key above it " \
              f"(line {above + 1})"
    hint = f"keys of one mapping line up: indent {key or 'it'} by {theirs} spaces, as on line {above + 1}"
    if mine > theirs:  # the key above has its value on its line, so nothing can nest under it
        hint += " (a key with a value on its line cannot have keys below it)"
    elif mine < theirs:
        hint += ", or by as many as a key further up to end that mapping"
    return problem, hint


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _key(line: str) -> str:
    match = re.match(r"\s*(?:-\s+)?([^\s:#][^:#]*?)\s*:(?:\s|$)", line)
    return f"'{match[1]}'" if match else ""
