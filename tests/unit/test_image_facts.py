"""`invoke images` / `invoke build`: how an image's self-report (image.json) reads."""

from __future__ import annotations

from typing import Any

import pytest

from ljprof.commands import format_facts, format_fixes, format_loom

FACTS: dict[str, Any] = {
    "luajit": {"version": "LuaJIT 2.1.0-beta3", "arch": "x64", "build_system": "cmake", "jit_enabled": True,
               "commit": "b52fe9795db249e7803aeef22c2ed6129a97aaeb", "source": "git://127.0.0.1/luajit", "ref": "v"},
    "features": {"memprof": {"present": True, "works": True}, "sysprof": {"present": True, "works": True},
                 "getmetrics": {"present": True, "keys": ["gc_total"]}},
    "luarocks": {"version": "3.8.0", "from": "debian", "rocks": []},
}
APPLIED = [{"name": "memprof-symtab-redump", "applied": True, "why": "memprof writes ..."},
           {"name": "profiler-stream-buffer", "applied": True, "why": "memprof and sysprof ..."}]
UPSTREAM = [{"name": "memprof-symtab-redump", "applied": False,
             "why": "not applicable: this LuaJIT has no src/lj_symtab.c (the fix is for memprof of Tarantool's fork)"},
            {"name": "profiler-stream-buffer", "applied": False,
             "why": "not applicable: this LuaJIT has no src/lib_misc.c (the fix is for ...)"}]


@pytest.mark.parametrize(("fixes", "line"), [
    (APPLIED, "memprof-symtab-redump, profiler-stream-buffer"),
    ([], "none"),
    (UPSTREAM, "none (not applicable: memprof-symtab-redump, profiler-stream-buffer)"),
    ([APPLIED[0], {"name": "profiler-stream-buffer", "applied": False,
                   "why": "not applied: this source has the change already"}],
     "memprof-symtab-redump (not applied: profiler-stream-buffer)"),
])
def test_fixes_line(fixes: list[dict[str, Any]], line: str) -> None:
    assert format_fixes(fixes) == line
    assert format_facts({**FACTS, "fixes": fixes}).splitlines()[-2] == f"  fixes     {line}"


def test_an_image_from_before_fixes_were_recorded_had_none() -> None:
    assert format_facts(FACTS).splitlines()[-2:] == ["  fixes     none", "  loom      not installed"]


@pytest.mark.parametrize(("loom", "line"), [
    ({"installed": True, "commit": "643db2f1840e23c62c0bcdadc3131eef03a6e431",
      "jquery": "/usr/share/javascript/jquery/jquery.min.js", "jquery_version": "3.6.1"},
     "installed (643db2f1840e); jQuery 3.6.1"),
    ({"installed": True, "commit": "local", "jquery": "", "jquery_version": ""},
     "installed (local); no jQuery (its page needs a CDN)"),
    ({"installed": False, "error": "module 'jit.dis_x64' not found"},
     "present but fails to load: module 'jit.dis_x64' not found"),
    ({"installed": False}, "not installed"),
])
def test_loom_line(loom: dict[str, Any], line: str) -> None:
    assert format_loom(loom) == line
