"""Facts about the memprof stream (format version 3), shared by both decoders.

The stream is a symbol table followed by the event stream (see `lj_symtab.h`
and `lj_memprof.h` in Tarantool's LuaJIT):

    stream   := symtab memprof
    symtab   := 'l' 'j' 's' version(3) reserved(3 bytes) sym* sym-final
    sym      := header(0x00) addr chunk-name first-line      Lua function
              | header(0x01) addr name                       C symbol
              | header(0x02) trace-no start-proto start-line  trace
    memprof  := 'l' 'j' 'm' version(3) reserved(3 bytes) event* 0x80
    event    := header [FUUSSSEE] location? fields
                EE: 0 symbol (announced mid-stream), 1 alloc, 2 free, 3 realloc
                SSS: 1 internal, 2 Lua function (addr line), 3 C function (addr),
                     4 trace (trace-no)

Numbers are ULEB128; strings are a ULEB128 length and the bytes. Both decoders
follow the rules below, so their results are the same on any input:

- a ULEB128 number is at most 10 bytes and fits in 64 bits; anything else is
  corrupt data;
- a symbol table entry header with bit 0x80 ends the table (as Tarantool's
  parser does); its type is the two low bits, type 3 is corrupt;
- an event header must be 0x80 (the end marker) or one that the fork writes:
  0x08, 0x0c, 0x10 (symbols), 0x05-0x07, 0x09-0x0b, 0x0d-0x0f, 0x11-0x13;
- the two prologues are checked strictly (magic, then version); running out
  of data anywhere after the symbol table's prologue is a cut, not an error.
"""

from __future__ import annotations

SYMTAB_MAGIC = b"ljs"
MEMPROF_MAGIC = b"ljm"
SYMTAB_VERSION = 3
MEMPROF_VERSION = 3
PROLOGUE_SIZE = 7

SYM_LFUNC = 0
SYM_CFUNC = 1
SYM_TRACE = 2
SYM_FINAL_BIT = 0x80

AEVENT_SYMTAB = 0
AEVENT_ALLOC = 1
AEVENT_FREE = 2
AEVENT_REALLOC = 3
AEVENT_MASK = 0x03

ASOURCE_INT = 1 << 2
ASOURCE_LFUNC = 2 << 2
ASOURCE_CFUNC = 3 << 2
ASOURCE_TRACE = 4 << 2
ASOURCE_MASK = 0x7 << 2

EPILOGUE = 0x80
MAX_EVENT_HEADER = ASOURCE_TRACE | AEVENT_REALLOC

ULEB_MAX_BYTES = 10

# Decoder phases (where in the stream the decoder is).
PHASE_SYMTAB_PROLOGUE = 0
PHASE_SYMTAB = 1
PHASE_MEMPROF_PROLOGUE = 2
PHASE_EVENTS = 3
PHASE_DONE = 4

PHASE_NAMES = {
    PHASE_SYMTAB_PROLOGUE: "the symbol table's prologue",
    PHASE_SYMTAB: "the symbol table",
    PHASE_MEMPROF_PROLOGUE: "the event stream's prologue",
    PHASE_EVENTS: "the event stream",
    PHASE_DONE: "after the end marker",
}

# What `feed` returns as its status.
STATUS_MORE = 0  # every complete record consumed; the rest needs more data
STATUS_DONE = 1  # the end marker was read
STATUS_ERROR = 2  # see `error()`
STATUS_WAIT = 3  # as MORE, but `need` is only wished for: what starts may repeat a run of C symbols

# Error codes: the first four are header errors (the file is rejected), the
# rest mean corrupt data (the result covers what came before).
E_SYMTAB_MAGIC = 1
E_SYMTAB_VERSION = 2
E_MEMPROF_MAGIC = 3
E_MEMPROF_VERSION = 4
E_SYMBOL_TYPE = 10
E_EVENT_HEADER = 11
E_ULEB_TOO_LONG = 12
E_ULEB_OVERFLOW = 13

HEADER_ERRORS = frozenset({E_SYMTAB_MAGIC, E_SYMTAB_VERSION, E_MEMPROF_MAGIC, E_MEMPROF_VERSION})

# Event kinds as indices (alloc, realloc, free) in the decoders' results.
ETYPE_ALLOC = 0
ETYPE_REALLOC = 1
ETYPE_FREE = 2
ETYPE_NAMES = ("alloc", "realloc", "free")

# How a location resolved against the symbols known when the event came
# (the decoders' "rkind"). A trace's start resolves like a plain address;
# its kind is RK_TRACE_START + the start's kind.
RK_INTERNAL = 0  # address 0
RK_LUA = 1  # a = chunk id
RK_CSYM = 2  # a = the C symbol's address (the nearest at or below), b = name id
RK_CRAW = 3  # no symbol at or below the address
RK_TRACE = 4  # a trace with no symbol entry
RK_TRACE_START = 8  # a = start proto address, b = start line, c/d = the start's a/b

# The decoders' counters (`counts` in their result), by index.
COUNT_ALLOC = 0
COUNT_REALLOC = 1
COUNT_FREE = 2
COUNT_SYM_LUA = 3  # symbols announced in the event stream: Lua functions, C functions, traces
COUNT_SYM_C = 4
COUNT_SYM_TRACE = 5
COUNT_SYMTAB_LUA = 6  # entries of the symbol table before the events, by the same kinds
COUNT_SYMTAB_C = 7
COUNT_SYMTAB_TRACE = 8
COUNT_SYMBOL_BYTES = 9  # bytes of symbol data: the symbol table (prologue to end marker) and symbol records
COUNT_C_RUNS = 10  # runs of C symbol records in the event stream (the fork's re-dumps: one run per library)
COUNT_C_RUNS_REPEATED = 11  # of those, runs equal byte for byte to one kept from before (not decoded)
COUNT_UNKNOWN_FREES = 12  # frees of an address with no live chunk (allocated before the profile started)
COUNT_UNKNOWN_REALLOCS = 13  # reallocs of such an address
COUNT_REPLACED = 14  # allocs or reallocs onto an address that held a live chunk (its free was not seen)
NCOUNTS = 15

# Time windows. memprof's events carry no time: ljprof's harness puts markers in the stream (see
# harness.lua), an allocation by a function of its own chunk at its line 1, and logs each marker's
# time. The decoders split the stream at those allocations: window 0 runs from the start to the
# first marker, window N from the N-th marker to the next (a marker's own chunk is in the window it
# opens). At most MAX_WINDOWS windows are kept: when a marker would open window MAX_WINDOWS, adjacent
# windows are merged two by two (window i becomes i // 2), and from then on each window spans twice
# as many markers (the "stride"). So the decoders' memory grows with sites x MAX_WINDOWS at most,
# never with the file's length, and window i spans markers [i * stride, (i + 1) * stride).
MARKER_CHUNK = b"=ljprof_marker"
MARKER_LINE = 1
MAX_WINDOWS = 512
WINDOW_BITS = 9  # a window index in the C decoder's heap slots: MAX_WINDOWS must fit

# The runs of C symbol records a decoder keeps by content (the first ones seen, up to both limits).
RUN_CACHE_RUNS = 64
RUN_CACHE_BYTES = 16 << 20

# Owners of live memory. Every chunk belongs to the loc of the event that allocated or last
# reallocated it; a loc belongs to one "comp" (a part: a Lua line run by the interpreter, one
# trace, one C function, INTERNAL) and one "group" (what a report shows as one row: a Lua line
# with the traces that start at it, a C function, INTERNAL). Keys are four numbers:
OWNER_INTERNAL = 0  # (0, 0, 0, 0)
OWNER_LUA = 1  # (1, chunk id, line, 0): a line, interpreted; as a group also the traces starting there
OWNER_C = 2  # (2, the function's address, 0, 0): whatever symbol it resolves to
OWNER_TRACE = 4  # (4, trace no, 0, 0): a trace whose start is unknown
OWNER_TRACE_LUA = 5  # (5, trace no, chunk id, start line): a trace starting at a Lua line (comp only)
OWNER_TRACE_OTHER = 6  # (6, trace no, start address, start line): a start that resolves to no Lua function


def owner_keys(loc: tuple[int, int, int, int, int], site: tuple[int, int, int]) -> tuple[
        tuple[int, int, int, int], tuple[int, int, int, int]]:
    """(comp key, group key) of a loc (rkind, a, b, c, d) at a site (addr, line, traceno)."""
    rkind, a, b, c, _d = loc
    addr, line, traceno = site
    comp: tuple[int, int, int, int]
    if rkind == RK_INTERNAL:
        comp = (OWNER_INTERNAL, 0, 0, 0)
    elif rkind == RK_LUA:
        comp = (OWNER_LUA, a, line, 0)
    elif rkind in (RK_CSYM, RK_CRAW):
        comp = (OWNER_C, addr, 0, 0)
    elif rkind == RK_TRACE:
        comp = (OWNER_TRACE, traceno, 0, 0)
    elif rkind == RK_TRACE_START + RK_LUA:
        return (OWNER_TRACE_LUA, traceno, c, b), (OWNER_LUA, c, b, 0)
    else:
        comp = (OWNER_TRACE_OTHER, traceno, a, b)
    return comp, comp


def valid_event_header(header: int) -> bool:
    """Whether an event header byte is one the fork writes (the end marker aside)."""
    if header > MAX_EVENT_HEADER:
        return False
    source = header & ASOURCE_MASK
    if header & AEVENT_MASK == AEVENT_SYMTAB:
        return source in (ASOURCE_LFUNC, ASOURCE_CFUNC, ASOURCE_TRACE)
    return source != 0
