"""ljprof: build LuaJIT images, run Lua programs under profilers, report."""

__version__ = "0.1.0"
