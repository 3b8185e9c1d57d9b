"""Frozen data shared by the pipeline's stages (config -> plan -> build)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LuajitSource:
    """Where LuaJIT's source comes from and how it is built.

    Exactly one of `git` (with `ref`) and `path` is used: `path` wins when set.
    """

    git: str
    ref: str
    path: Path | None = None
    build: str = "auto"  # auto | cmake | make
    cmake_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class LuarocksSpec:
    """How LuaRocks and the rocks get into the image."""

    source: str = "source"  # source (luarocks.org) | debian (Debian packages) | none
    version: str = "3.8.0"
    url: str = ""


@dataclass(frozen=True)
class ImageRecipe:
    """One entry of `images:` in profiles.yml, with every default filled in."""

    name: str
    base: str
    apt: tuple[str, ...]
    luajit: LuajitSource
    luarocks: LuarocksSpec
    rocks: tuple[str, ...]


@dataclass(frozen=True)
class Config:
    """A loaded and validated profiles.yml."""

    path: Path
    images: dict[str, ImageRecipe] = field(default_factory=dict)
