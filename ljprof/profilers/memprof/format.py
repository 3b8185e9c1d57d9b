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


def valid_event_header(header: int) -> bool:
    """Whether an event header byte is one the fork writes (the end marker aside)."""
    if header > MAX_EVENT_HEADER:
        return False
    source = header & ASOURCE_MASK
    if header & AEVENT_MASK == AEVENT_SYMTAB:
        return source in (ASOURCE_LFUNC, ASOURCE_CFUNC, ASOURCE_TRACE)
    return source != 0
