"""The README's profile example is the shipped profiles.yml's, key for key (issue 13: a new user copies it)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def readme_example() -> dict[str, object]:
    """The indented block under "## profiles.yml: profiles" that starts with `defaults:`."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## profiles.yml: profiles\n", 1)[1]
    block = re.search(r"\n((?:    .*\n|\n)+)", section[section.index("    defaults:") - 1:])
    assert block is not None
    return dict(yaml.safe_load("\n".join(line[4:] for line in block[1].splitlines())))


def test_the_readme_shows_the_shipped_defaults_and_bot_profile() -> None:
    shipped = yaml.safe_load((REPO / "profiles.yml").read_text(encoding="utf-8"))
    example = readme_example()
    assert example["defaults"] == shipped["defaults"]
    assert example["profiles"] == {"bot": shipped["profiles"]["bot"]}
