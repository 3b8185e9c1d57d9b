"""Which library a C function lies in, from what the memprof stream records.

The stream names no libraries. The fork (src/lj_symtab.c) writes, for every
loaded object, the functions of its ELF symbol table (.symtab, else the
dynamic one) as (load address + st_value, name), one library after another.
Two things in there tell where a library starts:

- its imports: undefined symbols have st_value 0, so every function a library
  imports is written at its load address. A page-aligned address with more
  than one name is such a base (nothing else lives at offset 0: the ELF
  header does). Tarantool's parser takes the nearest symbol below an address
  as its name, so every function of a stripped library (lua-cjson's encode
  and decode are static) is named after whichever import came last there:
  `__cxa_finalize:0x7f31f6971000`.
- the fork's last resort for an object it cannot read: its path, written as
  the one symbol at its load address.

What a base is called comes from the library's own exports: a Lua C module
exports `luaopen_<name>` (`require` calls it), so the library that exports
`luaopen_cjson` is shown as `cjson.so`; the one exporting `lua_newstate` as
`luajit`; a path gives its file name. Other libraries have no name in the
stream and are shown by base (`lib@0x7f31f6971000+0x1a2b`). A library whose
base has one import or none goes undetected: its functions keep the nearest
symbol, as `name+0xoffset`.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

PAGE = 0x1000
LUAOPEN = "luaopen_"
# Exports that name a library (a library named by a luaopen_ function, or a path, wins over these).
MARKERS = {"lua_newstate": "luajit"}


@dataclass(frozen=True)
class Library:
    base: int
    name: str | None  # "cjson.so", "luajit", a path's file name; None when the stream does not tell

    def offset_label(self, address: int) -> str:
        where = self.name if self.name is not None else f"lib@{self.base:#x}"
        return f"{where}+{address - self.base:#x}"


class Libraries:
    """The libraries the C symbols reveal, by base address."""

    def __init__(self, symbols: Sequence[tuple[int, str, bool]]) -> None:
        """`symbols`: the C symbols at the end, (address, name, had other names), sorted by address."""
        bases = [addr for addr, name, multi in symbols if addr and (
            (multi and addr % PAGE == 0) or "/" in name)]
        self.bases = bases
        names: dict[int, tuple[int, int, str]] = {}  # base -> (rank, length, name): the least wins
        for addr, name, _multi in symbols:
            i = bisect.bisect_right(bases, addr) - 1
            if i < 0:
                continue
            base = bases[i]
            found = self._name(name, addr == base)
            if found is not None and (base not in names or found < names[base]):
                names[base] = found
        self.libraries = [Library(base, names[base][2] if base in names else None) for base in bases]

    @staticmethod
    def _name(symbol: str, at_base: bool) -> tuple[int, int, str] | None:
        """What a symbol says about its library's name: a path first, then the shortest luaopen_
        name (cjson, not cjson_safe), then a marker."""
        if at_base:  # imports sit at the base: only a path (the fork's last resort) names the library
            return (0, 0, symbol.rsplit("/", 1)[-1]) if "/" in symbol else None
        if symbol.startswith(LUAOPEN) and len(symbol) > len(LUAOPEN):
            return (1, len(symbol), f"{symbol[len(LUAOPEN):]}.so")
        marker = MARKERS.get(symbol)
        return (2, 0, marker) if marker is not None else None

    def find(self, address: int) -> Library | None:
        """The library whose base is the greatest at or below `address`, if any."""
        i = bisect.bisect_right(self.bases, address) - 1
        return self.libraries[i] if i >= 0 else None
