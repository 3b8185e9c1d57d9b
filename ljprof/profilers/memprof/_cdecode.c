/*
 * The C decoder of ljprof's memprof parser: the same records, rules and
 * aggregation as _pydecode.py (which is the readable description of what
 * this does), about 70x faster. See format.py for the stream's grammar.
 *
 * State lives in plain C tables: sites (addr, line, trace), the live heap
 * (addr -> size, location), per-site counters and the "overrides" links, the
 * owners of live memory (comps and groups: live now and at most, see
 * format.py), the runs of C symbol records kept by content (see `Run`), and
 * per group the cells of its time windows (see `Cell`).
 * Python objects are made only in result(). Sums of sizes are 128-bit, so
 * nothing wraps even on corrupt input with 64-bit sizes.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

__extension__ typedef unsigned __int128 u128;

/* Keep these in step with format.py. */
enum {
    PHASE_SYMTAB_PROLOGUE = 0,
    PHASE_SYMTAB = 1,
    PHASE_MEMPROF_PROLOGUE = 2,
    PHASE_EVENTS = 3,
    PHASE_DONE = 4
};
enum { STATUS_MORE = 0, STATUS_DONE = 1, STATUS_ERROR = 2, STATUS_WAIT = 3 };
enum {
    E_SYMTAB_MAGIC = 1,
    E_SYMTAB_VERSION = 2,
    E_MEMPROF_MAGIC = 3,
    E_MEMPROF_VERSION = 4,
    E_SYMBOL_TYPE = 10,
    E_EVENT_HEADER = 11,
    E_ULEB_TOO_LONG = 12,
    E_ULEB_OVERFLOW = 13
};
enum { RK_INTERNAL = 0, RK_LUA = 1, RK_CSYM = 2, RK_CRAW = 3, RK_TRACE = 4, RK_TRACE_START = 8 };
enum { ET_ALLOC = 0, ET_REALLOC = 1, ET_FREE = 2 };
enum {
    C_ALLOC = 0,
    C_REALLOC = 1,
    C_FREE = 2,
    C_SYM_LUA = 3,
    C_SYM_C = 4,
    C_SYM_TRACE = 5,
    C_SYMTAB_LUA = 6,
    C_SYMTAB_C = 7,
    C_SYMTAB_TRACE = 8,
    C_SYMBOL_BYTES = 9,
    C_C_RUNS = 10,
    C_C_RUNS_REPEATED = 11,
    C_UNKNOWN_FREES = 12,
    C_UNKNOWN_REALLOCS = 13,
    C_REPLACED = 14,
    NCOUNTS = 15
};
enum {
    OWNER_INTERNAL = 0,
    OWNER_LUA = 1,
    OWNER_C = 2,
    OWNER_TRACE = 4,
    OWNER_TRACE_LUA = 5,
    OWNER_TRACE_OTHER = 6
};
#define MAX_WINDOWS 512
#define MARKER_CHUNK "=ljprof_marker"
#define MARKER_LINE 1
#define RUN_CACHE_RUNS 64
#define RUN_CACHE_BYTES ((size_t)16 << 20)
#define CSYM_HEADER 0x0c

#define ASOURCE_INT 0x04
#define ASOURCE_LFUNC 0x08
#define ASOURCE_CFUNC 0x0c
#define ASOURCE_TRACE 0x10
#define EPILOGUE 0x80
#define MAX_EVENT_HEADER 0x13

/* ------------------------------------------------------------------------ */
/* Hashing and small helpers                                                 */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ n;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return mix64(h);
}

/* Grow a dynamic array so that it holds at least `need` items. */
static int grow(void **arr, size_t *cap, size_t need, size_t item)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > ((size_t)-1) / 2 / item)
            return -1;
        ncap *= 2;
    }
    void *n = realloc(*arr, ncap * item);
    if (n == NULL)
        return -1;
    *arr = n;
    *cap = ncap;
    return 0;
}

/* An open-addressing table of 32-bit indices (0 = empty, else index + 1). */
typedef struct {
    uint32_t *slots;
    size_t mask; /* size - 1; size is a power of two, 0 when unallocated */
    size_t count;
} IndexTable;

static int itable_init(IndexTable *t, size_t size)
{
    t->slots = calloc(size, sizeof(uint32_t));
    if (t->slots == NULL)
        return -1;
    t->mask = size - 1;
    t->count = 0;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* A u64 -> u64 map without deletion (lfunc, cfunc, traces).                 */

typedef struct {
    uint64_t key;
    uint64_t val; /* 0 = empty slot; callers store value + 1 */
} U64Slot;

typedef struct {
    U64Slot *slots;
    size_t mask;
    size_t count;
} U64Map;

static int u64map_init(U64Map *m)
{
    m->slots = calloc(64, sizeof(U64Slot));
    if (m->slots == NULL)
        return -1;
    m->mask = 63;
    m->count = 0;
    return 0;
}

static uint64_t u64map_get(const U64Map *m, uint64_t key)
{
    size_t i = mix64(key) & m->mask;
    while (m->slots[i].val) {
        if (m->slots[i].key == key)
            return m->slots[i].val;
        i = (i + 1) & m->mask;
    }
    return 0;
}

static int u64map_put(U64Map *m, uint64_t key, uint64_t val)
{
    if ((m->count + 1) * 2 > m->mask + 1) {
        size_t nsize = (m->mask + 1) * 2;
        U64Slot *ns = calloc(nsize, sizeof(U64Slot));
        if (ns == NULL)
            return -1;
        for (size_t j = 0; j <= m->mask; j++) {
            if (!m->slots[j].val)
                continue;
            size_t i = mix64(m->slots[j].key) & (nsize - 1);
            while (ns[i].val)
                i = (i + 1) & (nsize - 1);
            ns[i] = m->slots[j];
        }
        free(m->slots);
        m->slots = ns;
        m->mask = nsize - 1;
    }
    size_t i = mix64(key) & m->mask;
    while (m->slots[i].val) {
        if (m->slots[i].key == key) {
            m->slots[i].val = val;
            return 0;
        }
        i = (i + 1) & m->mask;
    }
    m->slots[i].key = key;
    m->slots[i].val = val;
    m->count++;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The live heap: addr -> (size, loc), with deletion (backward shift).       */

/*
 * 16 bytes, four to a cache line. `szw` holds the chunk's size in its low
 * SIZE_BITS bits and the time window it was placed in above them (format.py:
 * MAX_WINDOWS fits in the WINDOW_BITS left). A size that does not fit is kept
 * in the decoder's `big` map and marked BIG_SIZE here (see store_size).
 */
#define WINDOW_BITS 9
#define SIZE_BITS (32 - WINDOW_BITS)
#define SIZE_MASK ((1u << SIZE_BITS) - 1)
#define BIG_SIZE SIZE_MASK

typedef struct {
    uint64_t addr;
    uint32_t szw;  /* size | window << SIZE_BITS */
    uint32_t loc1; /* loc + 1; 0: an empty slot */
} HeapSlot;

static inline uint32_t slot_window(const HeapSlot *s) { return s->szw >> SIZE_BITS; }

typedef struct {
    HeapSlot *slots;
    size_t mask;
    unsigned shift; /* 64 - log2(size): Fibonacci hashing takes the product's top bits */
    size_t count;
} Heap;

/*
 * The live heap's table is the one big, randomly accessed structure. Large
 * tables are mapped separately and marked for transparent huge pages, so that
 * random lookups miss the TLB less often (a hint; it works without).
 */
#define HUGE_TABLE (4u << 20)

static HeapSlot *heap_alloc_slots(size_t n)
{
    size_t bytes = n * sizeof(HeapSlot);
    if (bytes < HUGE_TABLE)
        return calloc(n, sizeof(HeapSlot));
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE); /* a hint: failing is fine */
#endif
    return p;
}

static void heap_free_slots(HeapSlot *slots, size_t n)
{
    if (slots == NULL)
        return;
    if (n * sizeof(HeapSlot) < HUGE_TABLE)
        free(slots);
    else
        munmap(slots, n * sizeof(HeapSlot));
}

static inline size_t heap_home(const Heap *h, uint64_t addr)
{
    return (size_t)((addr * 0x9e3779b97f4a7c15ULL) >> h->shift);
}

static int heap_init(Heap *h)
{
    h->slots = heap_alloc_slots(1024);
    if (h->slots == NULL)
        return -1;
    h->mask = 1023;
    h->shift = 64 - 10;
    h->count = 0;
    return 0;
}

static inline HeapSlot *heap_find(Heap *h, uint64_t addr)
{
    size_t i = heap_home(h, addr);
    while (h->slots[i].loc1) {
        if (h->slots[i].addr == addr)
            return &h->slots[i];
        i = (i + 1) & h->mask;
    }
    return NULL;
}

static void heap_delete(Heap *h, HeapSlot *slot)
{
    size_t i = (size_t)(slot - h->slots);
    size_t j = i;
    for (;;) {
        j = (j + 1) & h->mask;
        if (!h->slots[j].loc1)
            break;
        size_t k = heap_home(h, h->slots[j].addr);
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        int stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            h->slots[i] = h->slots[j];
            i = j;
        }
    }
    h->slots[i].loc1 = 0;
    h->count--;
}

static int heap_put(Heap *h, uint64_t addr, uint32_t szw, uint32_t loc)
{
    /* At most half full: linear probing stays short (most lookups miss the cache anyway). */
    if ((h->count + 1) * 2 > h->mask + 1) {
        size_t nsize = (h->mask + 1) * 2;
        HeapSlot *old = h->slots;
        size_t omask = h->mask;
        h->slots = heap_alloc_slots(nsize);
        if (h->slots == NULL) {
            h->slots = old;
            return -1;
        }
        h->mask = nsize - 1;
        h->shift--;
        for (size_t j = 0; j <= omask; j++) {
            if (!old[j].loc1)
                continue;
            size_t i = heap_home(h, old[j].addr);
            while (h->slots[i].loc1)
                i = (i + 1) & h->mask;
            h->slots[i] = old[j];
        }
        heap_free_slots(old, omask + 1);
    }
    size_t i = heap_home(h, addr);
    while (h->slots[i].loc1) {
        if (h->slots[i].addr == addr) {
            h->slots[i].szw = szw;
            h->slots[i].loc1 = loc + 1;
            return 0;
        }
        i = (i + 1) & h->mask;
    }
    h->slots[i].addr = addr;
    h->slots[i].szw = szw;
    h->slots[i].loc1 = loc + 1;
    h->count++;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The decoder's records                                                     */

typedef struct {
    uint64_t addr, line, traceno;
    uint64_t gen; /* symbol generation `loc` was resolved at (0: never) */
    uint32_t loc;
} Site;

typedef struct {
    uint64_t site, rkind, a, b, c, d;
} Loc;

typedef struct {
    size_t off, len;
    uint64_t hash;
} Str; /* bytes in an arena */

typedef struct {
    uint64_t num;
    u128 alloc, free;
    uint32_t loc;
    uint32_t seen;
} Stat;

typedef struct {
    uint64_t etype, site, csite;
    uint32_t loc;
    uint64_t count;
    u128 allocated, freed;
} Prim;

typedef struct {
    uint64_t addr, line;
} TraceStart;

/*
 * An owner of live memory: a comp or a group (format.py). A group also counts
 * what it placed in the current time window (`wchunks`, `wbytes`; `wpend`
 * when it had an event there): the window's cell, written out when the window
 * ends (see `Cell`). Kept here, beside the live bytes each event updates
 * anyway, so that windows cost an event no more memory traffic.
 */
typedef struct {
    uint64_t key[4];
    uint32_t first_loc;
    uint32_t wpend;
    uint64_t allocs, frees, chunks, wchunks;
    u128 live, peak, wbytes;
} Owner;

/*
 * A group's events in one time window (format.py): chunks and bytes placed
 * there then, and its live bytes after its last event in the window (so, at
 * the window's end). A group has cells only for the windows it had events
 * in, in window order; that of the current window is still in its Owner.
 */
typedef struct {
    u128 bytes, live;
    uint64_t chunks;
    uint32_t window;
} Cell;

typedef struct {
    Cell *cells;
    size_t n, cap;
} Cells;

/* One address's name in a run of C symbols; `seq` orders the records. */
typedef struct {
    uint64_t addr;
    uint64_t seq;
    uint32_t name;
} Eff;

/*
 * A run of C symbol records (consecutive 0x0c records) seen before, kept by
 * content, with its net effect: the last name of each address (no event comes
 * between its records, so the names in between do not matter). When the same
 * bytes come again, the effect is applied instead of decoding them, and not
 * even that when no C symbol changed since it was last applied (`applied` ==
 * the decoder's `cver`). The first RUN_CACHE_RUNS runs that fit in
 * RUN_CACHE_BYTES are kept; others are decoded each time.
 */
typedef struct {
    uint8_t *data;
    size_t len;
    uint64_t count; /* records */
    Eff *eff;
    size_t neff;
    uint64_t applied;
} Run;

typedef struct {
    PyObject_HEAD
    int phase;
    int has_error;
    long long err_code, err_rec, err_pos, err_value;
    uint64_t gen;

    Site *sites;
    size_t nsites, capsites;
    IndexTable site_index;

    Loc *locs;
    size_t nlocs, caplocs;
    IndexTable loc_index;

    uint32_t *loc_owner; /* loc -> comp, group (two per loc) */
    size_t caploc_owner;
    Owner *owners[2]; /* comps, groups */
    size_t nowners[2], capowners[2];
    IndexTable owner_index[2];

    uint8_t *arena; /* chunk names and C symbol names */
    size_t narena, caparena;
    Str *chunks;
    size_t nchunks, capchunks;
    IndexTable chunk_index;
    Str *cnames; /* distinct */
    size_t ncnames, capcnames;
    IndexTable cname_index;

    /* Time windows (format.py). */
    Cells *gcells; /* per group */
    size_t capgcells;
    uint32_t *wtouched; /* the groups with an event in the current window (room for every group) */
    size_t nwtouched, capwtouched;
    uint8_t *loc_marker; /* loc -> 1 when its allocations are markers */
    size_t caploc_marker;
    uint32_t marker_chunk1; /* the chunk id of MARKER_CHUNK + 1, once announced */
    uint64_t markers, stride;
    uint32_t window, max_windows;

    U64Map lfunc;   /* addr -> chunk id + 1 */
    U64Map cfunc;   /* addr -> name id + 1, | CSYM_MULTI when it had other names before */
    uint64_t cver;  /* bumped whenever the C symbols change */
    uint64_t last_csym_addr; /* the last C symbol read */
    uint32_t last_csym_name;

    /* The run of C symbols being read, and the runs kept by content. */
    int in_run, run_keep;
    uint8_t *run;
    size_t nrun, caprun;
    uint64_t run_count;
    Eff *run_eff;
    size_t nrun_eff, caprun_eff;
    Run *runs;
    size_t nruns, runs_bytes;

    U64Map traces;  /* traceno -> index + 1 into trace_starts */
    TraceStart *trace_starts;
    size_t ntraces, captraces;
    uint64_t *ckeys; /* sorted C symbol addresses for floor lookups */
    size_t nckeys, capckeys;
    int ckeys_dirty;

    Stat *stats[3];
    size_t capstats[3];

    Prim *prims;
    size_t nprims, capprims;
    IndexTable prim_index;

    Heap heap;
    U64Map big;        /* addr -> index + 1 into bigsizes: sizes that do not fit in a HeapSlot */
    uint64_t *bigsizes;
    size_t nbig, capbig;
    uint64_t counts[NCOUNTS];

    /* The last site looked up: events often come from one site in a row. */
    uint64_t last_addr, last_line, last_traceno;
    uint32_t last_site;
    int has_last;
    uint32_t last_prim; /* index + 1 of the override last added to (0: none) */
} Decoder;

/* Return codes of the record parsers. */
#define RES_OK 0
#define RES_MORE 1
#define RES_BAD 2
#define RES_NOMEM 3
#define RES_WAIT 4 /* as RES_MORE, but c->need is only wished for (see try_repeat) */

typedef struct {
    const uint8_t *start; /* the buffer's first byte */
    const uint8_t *end;
    const uint8_t *p;
    const uint8_t *rec;
    uint64_t need;
    long long bad_code, bad_pos, bad_value;
} Cursor;

static inline int read_uleb(Cursor *c, uint64_t *out)
{
    const uint8_t *p = c->p;
    if (p < c->end && *p < 0x80) { /* the common one-byte case */
        *out = *p;
        c->p = p + 1;
        return RES_OK;
    }
    uint64_t v = 0;
    unsigned shift = 0;
    for (int i = 0;; i++) {
        if (p >= c->end)
            return RES_MORE;
        uint8_t b = *p++;
        if (i == 9) {
            if (b & 0x80) {
                c->bad_code = E_ULEB_TOO_LONG;
                c->bad_pos = c->p - c->start;
                c->bad_value = 0;
                return RES_BAD;
            }
            if (b > 1) {
                c->bad_code = E_ULEB_OVERFLOW;
                c->bad_pos = c->p - c->start;
                c->bad_value = 0;
                return RES_BAD;
            }
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    *out = v;
    c->p = p;
    return RES_OK;
}

static inline int read_string(Cursor *c, const uint8_t **s, uint64_t *len)
{
    int r = read_uleb(c, len);
    if (r != RES_OK)
        return r;
    if (*len > (uint64_t)(c->end - c->p)) {
        c->need = (uint64_t)(c->p - c->rec) + *len;
        if (c->need < *len) /* overflow: make it clearly impossible */
            c->need = UINT64_MAX;
        return RES_MORE;
    }
    *s = c->p;
    c->p += *len;
    return RES_OK;
}

#define TRY(expr) do { int _r = (expr); if (_r != RES_OK) return _r; } while (0)

static int arena_add(Decoder *d, const uint8_t *s, size_t len, Str *out)
{
    if (grow((void **)&d->arena, &d->caparena, d->narena + len + 1, 1) < 0)
        return RES_NOMEM;
    memcpy(d->arena + d->narena, s, len);
    out->off = d->narena;
    out->len = len;
    out->hash = hash_bytes(s, len);
    d->narena += len;
    return RES_OK;
}

static int itable_grow_if_needed(IndexTable *t, size_t (*home)(Decoder *, uint32_t), Decoder *d)
{
    if ((t->count + 1) * 2 <= t->mask + 1)
        return RES_OK;
    size_t nsize = (t->mask + 1) * 2;
    uint32_t *ns = calloc(nsize, sizeof(uint32_t));
    if (ns == NULL)
        return RES_NOMEM;
    for (size_t j = 0; j <= t->mask; j++) {
        uint32_t v = t->slots[j];
        if (!v)
            continue;
        size_t i = home(d, v - 1) & (nsize - 1);
        while (ns[i])
            i = (i + 1) & (nsize - 1);
        ns[i] = v;
    }
    free(t->slots);
    t->slots = ns;
    t->mask = nsize - 1;
    return RES_OK;
}

/* Byte strings kept once in the arena: bytes -> a dense id (chunk names, C symbol names). */

static int intern_str(Decoder *d, Str **items, size_t *n, size_t *cap, IndexTable *index,
                      size_t (*home)(Decoder *, uint32_t), const uint8_t *s, size_t len, uint32_t *out,
                      int *added)
{
    uint64_t h = hash_bytes(s, len);
    size_t i = h & index->mask;
    uint32_t v;
    *added = 0;
    while ((v = index->slots[i])) {
        Str *c = &(*items)[v - 1];
        if (c->hash == h && c->len == len && memcmp(d->arena + c->off, s, len) == 0) {
            *out = v - 1;
            return RES_OK;
        }
        i = (i + 1) & index->mask;
    }
    if (*n >= UINT32_MAX - 1)
        return RES_NOMEM;
    if (grow((void **)items, cap, *n + 1, sizeof(Str)) < 0)
        return RES_NOMEM;
    TRY(arena_add(d, s, len, &(*items)[*n]));
    uint32_t id = (uint32_t)(*n)++;
    TRY(itable_grow_if_needed(index, home, d));
    i = h & index->mask;
    while (index->slots[i])
        i = (i + 1) & index->mask;
    index->slots[i] = id + 1;
    index->count++;
    *out = id;
    *added = 1;
    return RES_OK;
}

static size_t chunk_home(Decoder *d, uint32_t id) { return (size_t)d->chunks[id].hash; }

static int intern_chunk(Decoder *d, const uint8_t *s, size_t len, uint32_t *out)
{
    int added;
    TRY(intern_str(d, &d->chunks, &d->nchunks, &d->capchunks, &d->chunk_index, chunk_home, s, len, out, &added));
    if (added && len == sizeof(MARKER_CHUNK) - 1 && memcmp(s, MARKER_CHUNK, len) == 0)
        d->marker_chunk1 = *out + 1;
    return RES_OK;
}

static size_t cname_home(Decoder *d, uint32_t id) { return (size_t)d->cnames[id].hash; }

static int intern_cname(Decoder *d, const uint8_t *s, size_t len, uint32_t *out)
{
    int added;
    return intern_str(d, &d->cnames, &d->ncnames, &d->capcnames, &d->cname_index, cname_home, s, len, out, &added);
}

/* sites: (addr, line, traceno) -> site id */

/* Cheap multiplicative hashes for the small, hot tables (sites, overrides): one per event. */
static inline uint64_t site_hash(uint64_t addr, uint64_t line, uint64_t traceno)
{
    uint64_t h = addr * 0x9e3779b97f4a7c15ULL ^ line * 0xc2b2ae3d27d4eb4fULL ^ traceno * 0x165667b19e3779f9ULL;
    return h ^ (h >> 29) ^ (h >> 47);
}

static size_t site_home(Decoder *d, uint32_t id)
{
    Site *s = &d->sites[id];
    return (size_t)site_hash(s->addr, s->line, s->traceno);
}

static int get_site_slow(Decoder *d, uint64_t addr, uint64_t line, uint64_t traceno, uint32_t *out);

static inline int get_site(Decoder *d, uint64_t addr, uint64_t line, uint64_t traceno, uint32_t *out)
{
    if (d->has_last && d->last_addr == addr && d->last_line == line && d->last_traceno == traceno) {
        *out = d->last_site;
        return RES_OK;
    }
    TRY(get_site_slow(d, addr, line, traceno, out));
    d->last_addr = addr;
    d->last_line = line;
    d->last_traceno = traceno;
    d->last_site = *out;
    d->has_last = 1;
    return RES_OK;
}

static int get_site_slow(Decoder *d, uint64_t addr, uint64_t line, uint64_t traceno, uint32_t *out)
{
    size_t i = site_hash(addr, line, traceno) & d->site_index.mask;
    uint32_t v;
    while ((v = d->site_index.slots[i])) {
        Site *s = &d->sites[v - 1];
        if (s->addr == addr && s->line == line && s->traceno == traceno) {
            *out = v - 1;
            return RES_OK;
        }
        i = (i + 1) & d->site_index.mask;
    }
    if (d->nsites >= UINT32_MAX - 1)
        return RES_NOMEM;
    if (grow((void **)&d->sites, &d->capsites, d->nsites + 1, sizeof(Site)) < 0)
        return RES_NOMEM;
    for (int e = 0; e < 3; e++) {
        size_t old = d->capstats[e];
        if (grow((void **)&d->stats[e], &d->capstats[e], d->nsites + 1, sizeof(Stat)) < 0)
            return RES_NOMEM;
        memset(d->stats[e] + old, 0, (d->capstats[e] - old) * sizeof(Stat));
    }
    uint32_t id = (uint32_t)d->nsites++;
    Site *s = &d->sites[id];
    s->addr = addr;
    s->line = line;
    s->traceno = traceno;
    s->gen = 0;
    s->loc = 0;
    TRY(itable_grow_if_needed(&d->site_index, site_home, d));
    i = site_hash(addr, line, traceno) & d->site_index.mask;
    while (d->site_index.slots[i])
        i = (i + 1) & d->site_index.mask;
    d->site_index.slots[i] = id + 1;
    d->site_index.count++;
    *out = id;
    return RES_OK;
}

/* locs: (site, rkind, a, b, c, d) -> loc id */

static inline uint64_t loc_hash(const Loc *l)
{
    uint64_t h = mix64(l->site + 1);
    h = mix64(h ^ l->rkind);
    h = mix64(h ^ l->a);
    h = mix64(h ^ l->b);
    h = mix64(h ^ l->c);
    return mix64(h ^ l->d);
}

static size_t loc_home(Decoder *d, uint32_t id) { return (size_t)loc_hash(&d->locs[id]); }

/* owners (comps and groups): 4-number key -> owner id */

static inline uint64_t owner_hash(const uint64_t *k)
{
    return mix64(mix64(mix64(mix64(k[0] + 1) ^ k[1]) ^ k[2]) ^ k[3]);
}

static size_t comp_home(Decoder *d, uint32_t id) { return (size_t)owner_hash(d->owners[0][id].key); }
static size_t group_home(Decoder *d, uint32_t id) { return (size_t)owner_hash(d->owners[1][id].key); }

static int intern_owner(Decoder *d, int level, const uint64_t *key, uint32_t loc, uint32_t *out)
{
    IndexTable *t = &d->owner_index[level];
    uint64_t h = owner_hash(key);
    size_t i = h & t->mask;
    uint32_t v;
    while ((v = t->slots[i])) {
        if (memcmp(d->owners[level][v - 1].key, key, 4 * sizeof(uint64_t)) == 0) {
            *out = v - 1;
            return RES_OK;
        }
        i = (i + 1) & t->mask;
    }
    if (d->nowners[level] >= UINT32_MAX - 1)
        return RES_NOMEM;
    if (grow((void **)&d->owners[level], &d->capowners[level], d->nowners[level] + 1, sizeof(Owner)) < 0)
        return RES_NOMEM;
    if (level) {
        size_t old = d->capgcells;
        if (grow((void **)&d->gcells, &d->capgcells, d->nowners[1] + 1, sizeof(Cells)) < 0 ||
            grow((void **)&d->wtouched, &d->capwtouched, d->nowners[1] + 1, sizeof(uint32_t)) < 0)
            return RES_NOMEM;
        memset(d->gcells + old, 0, (d->capgcells - old) * sizeof(Cells));
    }
    Owner *o = &d->owners[level][d->nowners[level]];
    memset(o, 0, sizeof *o);
    memcpy(o->key, key, 4 * sizeof(uint64_t));
    o->first_loc = loc;
    uint32_t id = (uint32_t)d->nowners[level]++;
    TRY(itable_grow_if_needed(t, level ? group_home : comp_home, d));
    i = h & t->mask;
    while (t->slots[i])
        i = (i + 1) & t->mask;
    t->slots[i] = id + 1;
    t->count++;
    *out = id;
    return RES_OK;
}

/* The comp and group keys of a loc (format.owner_keys). */
static void owner_keys(const Decoder *d, const Loc *l, uint64_t *comp, uint64_t *group)
{
    const Site *s = &d->sites[l->site];
    memset(comp, 0, 4 * sizeof(uint64_t));
    switch (l->rkind) {
    case RK_INTERNAL:
        comp[0] = OWNER_INTERNAL;
        break;
    case RK_LUA:
        comp[0] = OWNER_LUA;
        comp[1] = l->a;
        comp[2] = s->line;
        break;
    case RK_CSYM:
    case RK_CRAW:
        comp[0] = OWNER_C;
        comp[1] = s->addr;
        break;
    case RK_TRACE:
        comp[0] = OWNER_TRACE;
        comp[1] = s->traceno;
        break;
    case RK_TRACE_START + RK_LUA:
        comp[0] = OWNER_TRACE_LUA;
        comp[1] = s->traceno;
        comp[2] = l->c;
        comp[3] = l->b;
        group[0] = OWNER_LUA;
        group[1] = l->c;
        group[2] = l->b;
        group[3] = 0;
        return;
    default:
        comp[0] = OWNER_TRACE_OTHER;
        comp[1] = s->traceno;
        comp[2] = l->a;
        comp[3] = l->b;
        break;
    }
    memcpy(group, comp, 4 * sizeof(uint64_t));
}

static int intern_loc(Decoder *d, const Loc *key, uint32_t *out)
{
    uint64_t h = loc_hash(key);
    size_t i = h & d->loc_index.mask;
    uint32_t v;
    while ((v = d->loc_index.slots[i])) {
        if (memcmp(&d->locs[v - 1], key, sizeof(Loc)) == 0) {
            *out = v - 1;
            return RES_OK;
        }
        i = (i + 1) & d->loc_index.mask;
    }
    if (d->nlocs >= UINT32_MAX - 1)
        return RES_NOMEM;
    if (grow((void **)&d->locs, &d->caplocs, d->nlocs + 1, sizeof(Loc)) < 0 ||
        grow((void **)&d->loc_owner, &d->caploc_owner, 2 * (d->nlocs + 1), sizeof(uint32_t)) < 0 ||
        grow((void **)&d->loc_marker, &d->caploc_marker, d->nlocs + 1, 1) < 0)
        return RES_NOMEM;
    d->loc_marker[d->nlocs] = key->rkind == RK_LUA && d->marker_chunk1 && key->a == d->marker_chunk1 - 1 &&
                              d->sites[key->site].line == MARKER_LINE;
    d->locs[d->nlocs] = *key;
    uint32_t id = (uint32_t)d->nlocs++;
    TRY(itable_grow_if_needed(&d->loc_index, loc_home, d));
    i = h & d->loc_index.mask;
    while (d->loc_index.slots[i])
        i = (i + 1) & d->loc_index.mask;
    d->loc_index.slots[i] = id + 1;
    d->loc_index.count++;
    uint64_t ckey[4], gkey[4];
    owner_keys(d, key, ckey, gkey);
    TRY(intern_owner(d, 0, ckey, id, &d->loc_owner[2 * id]));
    TRY(intern_owner(d, 1, gkey, id, &d->loc_owner[2 * id + 1]));
    *out = id;
    return RES_OK;
}

/* symbols */

static int add_lfunc(Decoder *d, uint64_t addr, const uint8_t *chunk, size_t len)
{
    uint32_t cid;
    TRY(intern_chunk(d, chunk, len, &cid));
    if (u64map_get(&d->lfunc, addr) != (uint64_t)cid + 1) {
        if (u64map_put(&d->lfunc, addr, (uint64_t)cid + 1) < 0)
            return RES_NOMEM;
        d->gen++;
    }
    return RES_OK;
}

#define CSYM_MULTI ((uint64_t)1 << 32)

static inline uint32_t csym_name(uint64_t v) { return (uint32_t)((v & 0xffffffffu) - 1); }

static int set_cname(Decoder *d, uint64_t addr, uint32_t name)
{
    uint64_t v = u64map_get(&d->cfunc, addr);
    if (!v) {
        if (u64map_put(&d->cfunc, addr, (uint64_t)name + 1) < 0)
            return RES_NOMEM;
        d->ckeys_dirty = 1;
    } else if (csym_name(v) != name) {
        if (u64map_put(&d->cfunc, addr, ((uint64_t)name + 1) | CSYM_MULTI) < 0)
            return RES_NOMEM;
    } else {
        return RES_OK;
    }
    d->gen++;
    d->cver++;
    return RES_OK;
}

static int add_cfunc(Decoder *d, uint64_t addr, const uint8_t *name, size_t len)
{
    uint64_t v = u64map_get(&d->cfunc, addr);
    d->last_csym_addr = addr;
    if (v) {
        Str *old = &d->cnames[csym_name(v)];
        /* The fork re-announces every C symbol before each C event: the common case. */
        if (old->len == len && memcmp(d->arena + old->off, name, len) == 0) {
            d->last_csym_name = csym_name(v);
            return RES_OK;
        }
    }
    /* Names are interned: a library's imports all sit at its base address (see build.py), so
       the names there take turns in every table the fork writes, and must not pile up. */
    uint32_t id;
    TRY(intern_cname(d, name, len, &id));
    d->last_csym_name = id;
    return set_cname(d, addr, id);
}

static int add_trace(Decoder *d, uint64_t traceno, uint64_t addr, uint64_t line)
{
    uint64_t v = u64map_get(&d->traces, traceno);
    if (v) {
        TraceStart *t = &d->trace_starts[v - 1];
        if (t->addr == addr && t->line == line)
            return RES_OK;
        t->addr = addr;
        t->line = line;
    } else {
        if (grow((void **)&d->trace_starts, &d->captraces, d->ntraces + 1, sizeof(TraceStart)) < 0)
            return RES_NOMEM;
        d->trace_starts[d->ntraces].addr = addr;
        d->trace_starts[d->ntraces].line = line;
        d->ntraces++;
        if (u64map_put(&d->traces, traceno, d->ntraces) < 0)
            return RES_NOMEM;
    }
    d->gen++;
    return RES_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* How a plain address resolves: (kind, a, b). */
static int resolve_plain(Decoder *d, uint64_t addr, uint64_t *kind, uint64_t *a, uint64_t *b)
{
    *a = *b = 0;
    if (addr == 0) {
        *kind = RK_INTERNAL;
        return RES_OK;
    }
    uint64_t v = u64map_get(&d->lfunc, addr);
    if (v) {
        *kind = RK_LUA;
        *a = v - 1;
        return RES_OK;
    }
    if (d->ckeys_dirty) {
        if (grow((void **)&d->ckeys, &d->capckeys, d->cfunc.count + 1, sizeof(uint64_t)) < 0)
            return RES_NOMEM;
        size_t n = 0;
        for (size_t j = 0; j <= d->cfunc.mask; j++)
            if (d->cfunc.slots[j].val)
                d->ckeys[n++] = d->cfunc.slots[j].key;
        qsort(d->ckeys, n, sizeof(uint64_t), cmp_u64);
        d->nckeys = n;
        d->ckeys_dirty = 0;
    }
    /* The greatest key <= addr. */
    size_t lo = 0, hi = d->nckeys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->ckeys[mid] <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) {
        *kind = RK_CRAW;
        return RES_OK;
    }
    *kind = RK_CSYM;
    *a = d->ckeys[lo - 1];
    *b = csym_name(u64map_get(&d->cfunc, *a));
    return RES_OK;
}

static inline int site_loc(Decoder *d, uint32_t sid, uint32_t *out)
{
    Site *s = &d->sites[sid];
    if (s->gen == d->gen) {
        *out = s->loc;
        return RES_OK;
    }
    Loc key;
    memset(&key, 0, sizeof key);
    key.site = sid;
    if (s->traceno) {
        uint64_t v = u64map_get(&d->traces, s->traceno);
        if (!v) {
            key.rkind = RK_TRACE;
        } else {
            TraceStart *t = &d->trace_starts[v - 1];
            uint64_t kind;
            TRY(resolve_plain(d, t->addr, &kind, &key.c, &key.d));
            key.rkind = RK_TRACE_START + kind;
            key.a = t->addr;
            key.b = t->line;
        }
    } else {
        TRY(resolve_plain(d, s->addr, &key.rkind, &key.a, &key.b));
    }
    uint32_t loc;
    TRY(intern_loc(d, &key, &loc));
    s = &d->sites[sid];
    s->gen = d->gen;
    s->loc = loc;
    *out = loc;
    return RES_OK;
}

/* overrides: (etype, site, chunk's site) -> Prim */

static inline uint64_t prim_hash(uint64_t etype, uint64_t site, uint64_t csite)
{
    /* Site ids are below 2**32. */
    return mix64((site << 32 | csite) ^ (etype << 62));
}

static size_t prim_home(Decoder *d, uint32_t id)
{
    Prim *p = &d->prims[id];
    return (size_t)prim_hash(p->etype, p->site, p->csite);
}

/*
 * The `szw` to keep in a HeapSlot for a chunk of `size` placed now: the size
 * itself, or BIG_SIZE with the size in d->big (one entry per address, reused),
 * and the current window.
 */
static int store_size(Decoder *d, uint64_t addr, uint64_t size, uint32_t *out)
{
    uint32_t window = d->window << SIZE_BITS;
    if (size < BIG_SIZE) {
        *out = (uint32_t)size | window;
        return RES_OK;
    }
    uint64_t v = u64map_get(&d->big, addr);
    if (v) {
        d->bigsizes[v - 1] = size;
    } else {
        if (grow((void **)&d->bigsizes, &d->capbig, d->nbig + 1, sizeof(uint64_t)) < 0)
            return RES_NOMEM;
        d->bigsizes[d->nbig++] = size;
        if (u64map_put(&d->big, addr, d->nbig) < 0)
            return RES_NOMEM;
    }
    *out = BIG_SIZE | window;
    return RES_OK;
}

static inline uint64_t slot_size(const Decoder *d, const HeapSlot *s)
{
    uint32_t size = s->szw & SIZE_MASK;
    if (size != BIG_SIZE)
        return size;
    return d->bigsizes[u64map_get(&d->big, s->addr) - 1];
}

static int link_chunk(Decoder *d, uint64_t etype, uint32_t site, const HeapSlot *chunk, uint64_t nsize)
{
    uint32_t cloc = chunk->loc1 - 1;
    uint64_t csite = d->locs[cloc].site;
    Prim *p = NULL;
    if (d->last_prim) { /* frees and reallocs often release memory of one site in a row */
        Prim *q = &d->prims[d->last_prim - 1];
        if (q->etype == etype && q->site == site && q->csite == csite)
            p = q;
    }
    if (p == NULL) {
        uint64_t h = prim_hash(etype, site, csite);
        size_t i = h & d->prim_index.mask;
        uint32_t v;
        while ((v = d->prim_index.slots[i])) {
            Prim *q = &d->prims[v - 1];
            if (q->etype == etype && q->site == site && q->csite == csite) {
                p = q;
                break;
            }
            i = (i + 1) & d->prim_index.mask;
        }
        if (p == NULL) {
            if (d->nprims >= UINT32_MAX - 1)
                return RES_NOMEM;
            if (grow((void **)&d->prims, &d->capprims, d->nprims + 1, sizeof(Prim)) < 0)
                return RES_NOMEM;
            p = &d->prims[d->nprims];
            memset(p, 0, sizeof *p);
            p->etype = etype;
            p->site = site;
            p->csite = csite;
            p->loc = cloc;
            uint32_t id = (uint32_t)d->nprims++;
            TRY(itable_grow_if_needed(&d->prim_index, prim_home, d));
            i = h & d->prim_index.mask;
            while (d->prim_index.slots[i])
                i = (i + 1) & d->prim_index.mask;
            d->prim_index.slots[i] = id + 1;
            d->prim_index.count++;
            p = &d->prims[id];
        }
    }
    d->last_prim = (uint32_t)(p - d->prims) + 1;
    p->allocated += nsize;
    p->freed += slot_size(d, chunk);
    p->count++;
    return RES_OK;
}

/* The group had an event in the current window. */
static inline void touch(Decoder *d, Owner *o, uint32_t group)
{
    if (!o->wpend) {
        o->wpend = 1;
        o->wchunks = 0;
        o->wbytes = 0;
        d->wtouched[d->nwtouched++] = group; /* has room: see intern_owner */
    }
}

/* A chunk of `size` bytes now belongs to loc's comp and group, placed in the current window. */
static inline void own(Decoder *d, uint32_t loc, uint64_t size)
{
    for (int level = 0; level < 2; level++) {
        Owner *o = &d->owners[level][d->loc_owner[2 * loc + level]];
        o->allocs++;
        o->chunks++;
        o->live += size;
        if (o->live > o->peak)
            o->peak = o->live;
    }
    uint32_t group = d->loc_owner[2 * loc + 1];
    Owner *g = &d->owners[1][group];
    touch(d, g, group);
    g->wchunks++;
    g->wbytes += size;
}

/* A chunk is released: freed, reallocated, or replaced by one whose free was never seen. */
static inline void disown(Decoder *d, const HeapSlot *chunk)
{
    uint32_t loc = chunk->loc1 - 1;
    uint64_t size = slot_size(d, chunk);
    for (int level = 0; level < 2; level++) {
        Owner *o = &d->owners[level][d->loc_owner[2 * loc + level]];
        o->frees++;
        o->chunks--;
        o->live -= size;
    }
    uint32_t group = d->loc_owner[2 * loc + 1];
    touch(d, &d->owners[1][group], group);
}

/* The current window ends: write out the cells of the groups that had events in it. */
static int end_window(Decoder *d)
{
    for (size_t i = 0; i < d->nwtouched; i++) {
        uint32_t group = d->wtouched[i];
        Owner *o = &d->owners[1][group];
        Cells *cs = &d->gcells[group];
        if (grow((void **)&cs->cells, &cs->cap, cs->n + 1, sizeof(Cell)) < 0)
            return RES_NOMEM;
        Cell *c = &cs->cells[cs->n++];
        c->window = d->window;
        c->chunks = o->wchunks;
        c->bytes = o->wbytes;
        c->live = o->live;
        o->wpend = 0;
    }
    d->nwtouched = 0;
    return RES_OK;
}

/*
 * A marker: the next window starts (unless merged windows span several
 * markers and this one is inside the current window), merging windows two by
 * two when there would be too many.
 */
static int new_window(Decoder *d)
{
    d->markers++;
    uint64_t w = d->markers / d->stride;
    if (w == d->window)
        return RES_OK;
    TRY(end_window(d));
    if (w >= d->max_windows) {
        d->stride *= 2;
        w = d->markers / d->stride;
        for (size_t g = 0; g < d->nowners[1]; g++) {
            Cells *cs = &d->gcells[g];
            size_t n = 0;
            for (size_t i = 0; i < cs->n; i++) {
                Cell c = cs->cells[i];
                c.window >>= 1;
                if (n && cs->cells[n - 1].window == c.window) {
                    Cell *last = &cs->cells[n - 1];
                    last->chunks += c.chunks;
                    last->bytes += c.bytes;
                    last->live = c.live;
                } else {
                    cs->cells[n++] = c;
                }
            }
            cs->n = n;
            /* With an odd max_windows the window that starts now may be one that was just
               written out (raw windows 2k and 2k + 1 merge): it is the current one again. */
            if (n && cs->cells[n - 1].window == (uint32_t)w) {
                Owner *o = &d->owners[1][g];
                o->wpend = 1;
                o->wchunks = cs->cells[n - 1].chunks;
                o->wbytes = cs->cells[n - 1].bytes;
                d->wtouched[d->nwtouched++] = (uint32_t)g;
                cs->n--;
            }
        }
        for (size_t j = 0; j <= d->heap.mask; j++) {
            HeapSlot *h = &d->heap.slots[j];
            if (h->loc1)
                h->szw = (h->szw & SIZE_MASK) | (slot_window(h) >> 1) << SIZE_BITS;
        }
    }
    d->window = (uint32_t)w;
    return RES_OK;
}

/* Place a chunk at addr for loc, releasing one that was there. */
static int place(Decoder *d, uint64_t addr, uint64_t size, uint32_t loc)
{
    HeapSlot *old = heap_find(&d->heap, addr);
    if (old != NULL) {
        disown(d, old);
        d->counts[C_REPLACED]++;
    }
    uint32_t stored;
    TRY(store_size(d, addr, size, &stored));
    if (heap_put(&d->heap, addr, stored, loc) < 0)
        return RES_NOMEM;
    own(d, loc, size);
    return RES_OK;
}

static inline Stat *stat_for(Decoder *d, int etype, uint32_t site, uint32_t loc)
{
    Stat *st = &d->stats[etype][site];
    if (!st->seen) {
        st->seen = 1;
        st->loc = loc;
    }
    st->num++;
    return st;
}

/* ------------------------------------------------------------------------ */
/* Records                                                                   */

static int parse_prologue(Decoder *d, Cursor *c)
{
    int symtab = d->phase == PHASE_SYMTAB_PROLOGUE;
    const char *magic = symtab ? "ljs" : "ljm";
    size_t avail = (size_t)(c->end - c->p);
    for (size_t i = 0; i < 3 && i < avail; i++) {
        if (c->p[i] != (uint8_t)magic[i]) {
            c->bad_code = symtab ? E_SYMTAB_MAGIC : E_MEMPROF_MAGIC;
            c->bad_pos = c->p + i - c->start;
            c->bad_value = c->p[i];
            return RES_BAD;
        }
    }
    if (avail > 3 && c->p[3] != 3) {
        c->bad_code = symtab ? E_SYMTAB_VERSION : E_MEMPROF_VERSION;
        c->bad_pos = c->p + 3 - c->start;
        c->bad_value = c->p[3];
        return RES_BAD;
    }
    if (avail < 7)
        return RES_MORE;
    c->p += 7;
    d->phase = symtab ? PHASE_SYMTAB : PHASE_EVENTS;
    if (symtab)
        d->counts[C_SYMBOL_BYTES] += 7;
    return RES_OK;
}

static int parse_symtab_entry(Decoder *d, Cursor *c)
{
    uint64_t addr, line, traceno, len;
    const uint8_t *s;
    if (c->p >= c->end)
        return RES_MORE;
    uint8_t header = *c->p++;
    if (header & 0x80) {
        d->phase = PHASE_MEMPROF_PROLOGUE;
        d->counts[C_SYMBOL_BYTES]++;
        return RES_OK;
    }
    switch (header & 0x03) {
    case 0:
        TRY(read_uleb(c, &addr));
        TRY(read_string(c, &s, &len));
        TRY(read_uleb(c, &line));
        TRY(add_lfunc(d, addr, s, (size_t)len));
        d->counts[C_SYMTAB_LUA]++;
        break;
    case 1:
        TRY(read_uleb(c, &addr));
        TRY(read_string(c, &s, &len));
        TRY(add_cfunc(d, addr, s, (size_t)len));
        d->counts[C_SYMTAB_C]++;
        break;
    case 2:
        TRY(read_uleb(c, &traceno));
        TRY(read_uleb(c, &addr));
        TRY(read_uleb(c, &line));
        TRY(add_trace(d, traceno, addr, line));
        d->counts[C_SYMTAB_TRACE]++;
        break;
    default:
        c->bad_code = E_SYMBOL_TYPE;
        c->bad_pos = c->rec - c->start;
        c->bad_value = header;
        return RES_BAD;
    }
    d->counts[C_SYMBOL_BYTES] += (uint64_t)(c->p - c->rec);
    return RES_OK;
}

static inline int valid_event_header(uint8_t h)
{
    if (h > MAX_EVENT_HEADER)
        return 0;
    uint8_t source = h & 0x1c;
    if ((h & 0x03) == 0)
        return source == ASOURCE_LFUNC || source == ASOURCE_CFUNC || source == ASOURCE_TRACE;
    return source != 0;
}

/*
 * Events are decoded in batches: first up to EVENT_BATCH records are read
 * without touching any state, and the live-heap slots they will use are
 * prefetched; then they are applied in order. The heap is a big hash table
 * whose every lookup would otherwise wait for memory: overlapping those
 * waits is what makes this decoder fast. Applying in order keeps the result
 * exactly that of decoding one record at a time.
 */
#define EVENT_BATCH 32

enum { EV_SYMBOL, EV_ALLOC, EV_REALLOC, EV_FREE, EV_END };

typedef struct {
    int kind;
    uint8_t source; /* ASOURCE_* for allocation events, symbol kind for symbols */
    uint64_t addr, line, traceno;
    uint64_t oaddr, osize, naddr, nsize;
    const uint8_t *str; /* symbol name or chunk, in the buffer being fed */
    uint64_t len;
    uint64_t size; /* bytes of the record (symbols) */
} Event;

/* Read one event into `ev`; no state changes. */
static inline int decode_event(Cursor *c, Event *ev)
{
    if (c->p >= c->end)
        return RES_MORE;
    uint8_t header = *c->p++;
    if (header == EPILOGUE) {
        ev->kind = EV_END;
        return RES_OK;
    }
    if (!valid_event_header(header)) {
        c->bad_code = E_EVENT_HEADER;
        c->bad_pos = c->rec - c->start;
        c->bad_value = header;
        return RES_BAD;
    }
    uint8_t aevent = header & 0x03, source = header & 0x1c;
    ev->source = source;
    ev->addr = ev->line = ev->traceno = 0;
    if (aevent == 0) {
        ev->kind = EV_SYMBOL;
        if (source == ASOURCE_LFUNC) {
            TRY(read_uleb(c, &ev->addr));
            TRY(read_string(c, &ev->str, &ev->len));
            TRY(read_uleb(c, &ev->line));
        } else if (source == ASOURCE_CFUNC) {
            TRY(read_uleb(c, &ev->addr));
            TRY(read_string(c, &ev->str, &ev->len));
        } else {
            TRY(read_uleb(c, &ev->traceno));
            TRY(read_uleb(c, &ev->addr));
            TRY(read_uleb(c, &ev->line));
        }
        ev->size = (uint64_t)(c->p - c->rec);
        return RES_OK;
    }
    if (source == ASOURCE_LFUNC) {
        TRY(read_uleb(c, &ev->addr));
        TRY(read_uleb(c, &ev->line));
    } else if (source == ASOURCE_CFUNC) {
        TRY(read_uleb(c, &ev->addr));
    } else if (source == ASOURCE_TRACE) {
        TRY(read_uleb(c, &ev->traceno));
    }
    if (aevent == 1) {
        ev->kind = EV_ALLOC;
        TRY(read_uleb(c, &ev->naddr));
        TRY(read_uleb(c, &ev->nsize));
    } else if (aevent == 3) {
        ev->kind = EV_REALLOC;
        TRY(read_uleb(c, &ev->oaddr));
        TRY(read_uleb(c, &ev->osize));
        TRY(read_uleb(c, &ev->naddr));
        TRY(read_uleb(c, &ev->nsize));
    } else {
        ev->kind = EV_FREE;
        TRY(read_uleb(c, &ev->oaddr));
        TRY(read_uleb(c, &ev->osize));
    }
    return RES_OK;
}

/* GCC 12 left the __builtin_prefetch calls out of parse_events (seen in its assembly); asm keeps them. */
static inline void prefetch(const void *p)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p, 1);
#endif
}

static inline void prefetch_event(const Decoder *d, const Event *ev)
{
    const Heap *h = &d->heap;
    if (ev->kind == EV_ALLOC || ev->kind == EV_REALLOC)
        prefetch(&h->slots[heap_home(h, ev->naddr)]);
    if (ev->kind == EV_REALLOC || ev->kind == EV_FREE) {
        /* A chunk to release: the probe and the backward shift that follows often reach the next line. */
        size_t i = heap_home(h, ev->oaddr);
        prefetch(&h->slots[i]);
        prefetch(&h->slots[(i + 4) & h->mask]);
    }
}

/* Apply one decoded event to the state, as Tarantool's parser does. */
static int apply_event(Decoder *d, const Event *ev)
{
    uint32_t site, loc;
    switch (ev->kind) {
    case EV_SYMBOL:
        if (ev->source == ASOURCE_LFUNC) {
            TRY(add_lfunc(d, ev->addr, ev->str, (size_t)ev->len));
            d->counts[C_SYM_LUA]++;
        } else if (ev->source == ASOURCE_CFUNC) {
            TRY(add_cfunc(d, ev->addr, ev->str, (size_t)ev->len));
            d->counts[C_SYM_C]++;
        } else {
            TRY(add_trace(d, ev->traceno, ev->addr, ev->line));
            d->counts[C_SYM_TRACE]++;
        }
        d->counts[C_SYMBOL_BYTES] += ev->size;
        return RES_OK;
    case EV_ALLOC: {
        TRY(get_site(d, ev->addr, ev->line, ev->traceno, &site));
        TRY(site_loc(d, site, &loc));
        if (d->loc_marker[loc])
            TRY(new_window(d));
        Stat *st = stat_for(d, ET_ALLOC, site, loc);
        st->alloc += ev->nsize;
        TRY(place(d, ev->naddr, ev->nsize, loc));
        d->counts[C_ALLOC]++;
        return RES_OK;
    }
    case EV_REALLOC: {
        TRY(get_site(d, ev->addr, ev->line, ev->traceno, &site));
        TRY(site_loc(d, site, &loc));
        Stat *st = stat_for(d, ET_REALLOC, site, loc);
        st->free += ev->osize;
        st->alloc += ev->nsize;
        d->counts[C_REALLOC]++;
        HeapSlot *chunk = heap_find(&d->heap, ev->oaddr);
        if (chunk != NULL) {
            TRY(link_chunk(d, ET_REALLOC, site, chunk, ev->nsize));
            disown(d, chunk);
            heap_delete(&d->heap, chunk);
        } else {
            d->counts[C_UNKNOWN_REALLOCS]++;
        }
        return place(d, ev->naddr, ev->nsize, loc);
    }
    case EV_FREE: {
        TRY(get_site(d, ev->addr, ev->line, ev->traceno, &site));
        TRY(site_loc(d, site, &loc));
        Stat *st = stat_for(d, ET_FREE, site, loc);
        st->free += ev->osize;
        d->counts[C_FREE]++;
        HeapSlot *chunk = heap_find(&d->heap, ev->oaddr);
        if (chunk != NULL) {
            TRY(link_chunk(d, ET_FREE, site, chunk, 0));
            disown(d, chunk);
            heap_delete(&d->heap, chunk);
        } else {
            d->counts[C_UNKNOWN_FREES]++;
        }
        return RES_OK;
    }
    default: /* EV_END */
        d->phase = PHASE_DONE;
        return RES_OK;
    }
}

/* Runs of C symbol records: see `Run`. */

static int cmp_eff(const void *a, const void *b)
{
    const Eff *x = a, *y = b;
    if (x->addr != y->addr)
        return (x->addr > y->addr) - (x->addr < y->addr);
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The C symbol record [rec, rec + len) was applied: add it to the current run. */
static int run_add(Decoder *d, const uint8_t *rec, size_t len)
{
    if (!d->in_run) {
        d->in_run = 1;
        d->run_keep = d->nruns < RUN_CACHE_RUNS;
        d->counts[C_C_RUNS]++;
    }
    d->run_count++;
    if (!d->run_keep)
        return RES_OK;
    if (d->runs_bytes + d->nrun + len > RUN_CACHE_BYTES) {
        d->run_keep = 0; /* too big to keep: no need to hold it */
        d->nrun = 0;
        d->nrun_eff = 0;
        return RES_OK;
    }
    if (grow((void **)&d->run, &d->caprun, d->nrun + len, 1) < 0 ||
        grow((void **)&d->run_eff, &d->caprun_eff, d->nrun_eff + 1, sizeof(Eff)) < 0)
        return RES_NOMEM;
    memcpy(d->run + d->nrun, rec, len);
    d->nrun += len;
    Eff *e = &d->run_eff[d->nrun_eff];
    e->addr = d->last_csym_addr;
    e->name = d->last_csym_name;
    e->seq = d->nrun_eff++;
    return RES_OK;
}

/* The current run ended (a record of another kind follows): keep it if it is to be kept. */
static int end_run(Decoder *d)
{
    if (d->run_keep) {
        if (d->runs == NULL && (d->runs = calloc(RUN_CACHE_RUNS, sizeof(Run))) == NULL)
            return RES_NOMEM;
        /* The net effect: the last name of each address. */
        qsort(d->run_eff, d->nrun_eff, sizeof(Eff), cmp_eff);
        size_t n = 0;
        for (size_t i = 0; i < d->nrun_eff; i++) {
            if (n && d->run_eff[n - 1].addr == d->run_eff[i].addr)
                n--;
            d->run_eff[n++] = d->run_eff[i];
        }
        Run *r = &d->runs[d->nruns];
        r->data = malloc(d->nrun ? d->nrun : 1);
        r->eff = malloc(n ? n * sizeof(Eff) : 1);
        if (r->data == NULL || r->eff == NULL) {
            free(r->data);
            free(r->eff);
            r->data = NULL;
            r->eff = NULL;
            return RES_NOMEM;
        }
        memcpy(r->data, d->run, d->nrun);
        memcpy(r->eff, d->run_eff, n * sizeof(Eff));
        r->len = d->nrun;
        r->neff = n;
        r->count = d->run_count;
        r->applied = d->cver;
        d->nruns++;
        d->runs_bytes += d->nrun;
    }
    d->in_run = 0;
    d->run_keep = 0;
    d->nrun = 0;
    d->nrun_eff = 0;
    d->run_count = 0;
    return RES_OK;
}

/*
 * A run of C symbols starts at c->p: if it is a kept run, apply it, move c->p
 * past it and return 1. Else 0, or -1 with *need set when the data so far
 * could be a kept run and more is to come (unless `final`). Only a whole run
 * counts: the byte after it must be there and start another kind of record.
 */
static int try_repeat(Decoder *d, Cursor *c, int final, uint64_t *need, int *res)
{
    size_t avail = (size_t)(c->end - c->p);
    uint64_t wait = 0;
    *res = RES_OK;
    for (size_t i = 0; i < d->nruns; i++) {
        Run *r = &d->runs[i];
        if (avail > r->len) {
            if (c->p[r->len] != CSYM_HEADER && memcmp(c->p, r->data, r->len) == 0) {
                if (r->applied != d->cver) {
                    for (size_t j = 0; j < r->neff; j++) {
                        if ((*res = set_cname(d, r->eff[j].addr, r->eff[j].name)) != RES_OK)
                            return 0;
                    }
                    r->applied = d->cver;
                }
                d->counts[C_SYM_C] += r->count;
                d->counts[C_SYMBOL_BYTES] += r->len;
                d->counts[C_C_RUNS]++;
                d->counts[C_C_RUNS_REPEATED]++;
                c->p += r->len;
                return 1;
            }
        } else if (!final && memcmp(c->p, r->data, avail) == 0) {
            if (r->len + 1 > wait)
                wait = r->len + 1;
        }
    }
    if (wait) {
        *need = wait;
        return -1;
    }
    return 0;
}

/*
 * Decode and apply events from c->p on. Returns RES_OK when the end marker
 * was applied, else the result of the record that stopped decoding (with
 * c->rec at its start and c->p there too); every record before it is applied.
 * C symbol records are read one at a time, in runs (see `Run`); other records
 * in batches.
 */
static int parse_events(Decoder *d, Cursor *c, int final)
{
    Event batch[EVENT_BATCH];
    for (;;) {
        while (c->p < c->end && *c->p == CSYM_HEADER) {
            c->rec = c->p;
            c->need = 0;
            if (!d->in_run && d->nruns) {
                int res;
                int rr = try_repeat(d, c, final, &c->need, &res);
                if (res != RES_OK)
                    return res;
                if (rr > 0)
                    continue;
                if (rr < 0)
                    return RES_WAIT;
            }
            Event ev;
            int r = decode_event(c, &ev);
            if (r != RES_OK) {
                c->p = c->rec;
                return r;
            }
            TRY(apply_event(d, &ev));
            TRY(run_add(d, c->rec, (size_t)(c->p - c->rec)));
        }
        if (c->p < c->end && d->in_run)
            TRY(end_run(d));
        int n = 0, r = RES_OK;
        while (n < EVENT_BATCH) {
            c->rec = c->p;
            c->need = 0;
            if (c->p < c->end && *c->p == CSYM_HEADER)
                break;
            r = decode_event(c, &batch[n]);
            if (r != RES_OK)
                break;
            if (batch[n++].kind == EV_END)
                break;
        }
        for (int i = 0; i < n; i++)
            prefetch_event(d, &batch[i]);
        for (int i = 0; i < n; i++) {
            int ar = apply_event(d, &batch[i]);
            if (ar != RES_OK)
                return ar; /* out of memory: the caller gives up */
        }
        if (r != RES_OK) {
            c->p = c->rec;
            return r;
        }
        if (d->phase == PHASE_DONE)
            return RES_OK;
    }
}

/* ------------------------------------------------------------------------ */
/* Python type                                                               */

static void Decoder_dealloc(Decoder *d)
{
    free(d->sites);
    free(d->site_index.slots);
    free(d->locs);
    free(d->loc_index.slots);
    free(d->arena);
    free(d->chunks);
    free(d->chunk_index.slots);
    free(d->cnames);
    free(d->lfunc.slots);
    free(d->cfunc.slots);
    free(d->traces.slots);
    free(d->big.slots);
    free(d->bigsizes);
    free(d->trace_starts);
    free(d->ckeys);
    for (int e = 0; e < 3; e++)
        free(d->stats[e]);
    free(d->prims);
    free(d->prim_index.slots);
    free(d->cname_index.slots);
    free(d->loc_owner);
    free(d->loc_marker);
    free(d->wtouched);
    if (d->gcells != NULL) {
        for (size_t g = 0; g < d->nowners[1]; g++)
            free(d->gcells[g].cells);
        free(d->gcells);
    }
    for (int level = 0; level < 2; level++) {
        free(d->owners[level]);
        free(d->owner_index[level].slots);
    }
    free(d->run);
    free(d->run_eff);
    if (d->runs != NULL) {
        for (size_t i = 0; i < d->nruns; i++) {
            free(d->runs[i].data);
            free(d->runs[i].eff);
        }
        free(d->runs);
    }
    if (d->heap.slots != NULL)
        heap_free_slots(d->heap.slots, d->heap.mask + 1);
    Py_TYPE(d)->tp_free((PyObject *)d);
}

static int Decoder_init(Decoder *d, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"max_windows", NULL};
    int max_windows = MAX_WINDOWS;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|i:Decoder", kwlist, &max_windows))
        return -1;
    if (max_windows < 2 || max_windows > MAX_WINDOWS) {
        PyErr_Format(PyExc_ValueError, "max_windows must be 2..%d, not %d", MAX_WINDOWS, max_windows);
        return -1;
    }
    if (d->sites != NULL || d->heap.slots != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Decoder.__init__ called twice");
        return -1;
    }
    d->phase = PHASE_SYMTAB_PROLOGUE;
    d->gen = 1;
    d->max_windows = (uint32_t)max_windows;
    d->stride = 1;
    if (itable_init(&d->site_index, 64) < 0 || itable_init(&d->loc_index, 64) < 0 ||
        itable_init(&d->chunk_index, 64) < 0 || itable_init(&d->prim_index, 64) < 0 ||
        itable_init(&d->cname_index, 64) < 0 || itable_init(&d->owner_index[0], 64) < 0 ||
        itable_init(&d->owner_index[1], 64) < 0 ||
        u64map_init(&d->lfunc) < 0 || u64map_init(&d->cfunc) < 0 || u64map_init(&d->traces) < 0 ||
        u64map_init(&d->big) < 0 || heap_init(&d->heap) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    /* Allocate the arrays that are indexed without a size check. */
    if (grow((void **)&d->sites, &d->capsites, 1, sizeof(Site)) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static PyObject *Decoder_feed(Decoder *d, PyObject *args)
{
    Py_buffer view;
    long long base;
    int final = 0;
    if (!PyArg_ParseTuple(args, "y*L|p:feed", &view, &base, &final))
        return NULL;
    if (d->sites == NULL) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_RuntimeError, "Decoder not initialised");
        return NULL;
    }
    if (d->phase == PHASE_DONE || d->has_error) {
        PyBuffer_Release(&view);
        return Py_BuildValue("nii", (Py_ssize_t)0, d->has_error ? STATUS_ERROR : STATUS_DONE, 0);
    }
    Cursor c;
    c.start = (const uint8_t *)view.buf;
    c.end = c.start + view.len;
    c.p = c.start;
    int status = STATUS_MORE;
    unsigned long long need = 0;
    for (;;) {
        c.rec = c.p;
        c.need = 0;
        int r;
        switch (d->phase) {
        case PHASE_EVENTS:
            r = parse_events(d, &c, final);
            break;
        case PHASE_SYMTAB:
            r = parse_symtab_entry(d, &c);
            break;
        default:
            r = parse_prologue(d, &c);
            break;
        }
        if (r == RES_OK) {
            if (d->phase == PHASE_DONE) {
                status = STATUS_DONE;
                break;
            }
            continue;
        }
        /* Whatever the record parsed is dropped: resume at its start. */
        if (r == RES_MORE || r == RES_WAIT) {
            need = c.need;
            if (r == RES_WAIT)
                status = STATUS_WAIT;
        } else if (r == RES_BAD) {
            d->has_error = 1;
            d->err_code = c.bad_code;
            d->err_rec = base + (c.rec - c.start);
            d->err_pos = base + c.bad_pos;
            d->err_value = c.bad_value;
            status = STATUS_ERROR;
        } else {
            PyBuffer_Release(&view);
            return PyErr_NoMemory();
        }
        c.p = c.rec;
        break;
    }
    Py_ssize_t consumed = c.p - c.start;
    PyBuffer_Release(&view);
    return Py_BuildValue("niK", consumed, status, need);
}

static PyObject *Decoder_phase(Decoder *d, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLong(d->phase);
}

static PyObject *Decoder_error(Decoder *d, PyObject *Py_UNUSED(ignored))
{
    if (!d->has_error)
        Py_RETURN_NONE;
    return Py_BuildValue("(LLLL)", d->err_code, d->err_rec, d->err_pos, d->err_value);
}

static PyObject *py_u128(u128 v)
{
    if ((v >> 64) == 0)
        return PyLong_FromUnsignedLongLong((unsigned long long)v);
    PyObject *hi = PyLong_FromUnsignedLongLong((unsigned long long)(v >> 64));
    PyObject *lo = PyLong_FromUnsignedLongLong((unsigned long long)v);
    PyObject *shift = PyLong_FromLong(64);
    PyObject *res = NULL, *tmp = NULL;
    if (hi && lo && shift && (tmp = PyNumber_Lshift(hi, shift)))
        res = PyNumber_Or(tmp, lo);
    Py_XDECREF(hi);
    Py_XDECREF(lo);
    Py_XDECREF(shift);
    Py_XDECREF(tmp);
    return res;
}

/* A tuple of n new references (stolen); NULL (and every item released) if any is NULL. */
static PyObject *tuple_of(Py_ssize_t n, PyObject **items)
{
    PyObject *t = NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        if (items[i] == NULL)
            goto fail;
    if ((t = PyTuple_New(n)) == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++)
        PyTuple_SET_ITEM(t, i, items[i]);
    return t;
fail:
    for (Py_ssize_t i = 0; i < n; i++)
        Py_XDECREF(items[i]);
    return NULL;
}

#define U64(x) PyLong_FromUnsignedLongLong((unsigned long long)(x))

/* Append a new reference to a list, stealing it; -1 on error. */
static int append_new(PyObject *list, PyObject *item)
{
    if (item == NULL)
        return -1;
    int r = PyList_Append(list, item);
    Py_DECREF(item);
    return r;
}

static int cmp_slot_addr(const void *a, const void *b)
{
    uint64_t x = ((const U64Slot *)a)->key, y = ((const U64Slot *)b)->key;
    return (x > y) - (x < y);
}

#define NLISTS 12

/* The index of the cell of `window` in a group's written cells (in window order); n when it has none. */
static size_t find_cell(const Cells *cs, uint32_t window)
{
    size_t lo = 0, hi = cs->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cs->cells[mid].window < window)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < cs->n && cs->cells[lo].window == window ? lo : cs->n;
}

static PyObject *Decoder_result(Decoder *d, PyObject *Py_UNUSED(ignored))
{
    PyObject *lists[NLISTS] = {NULL};
    PyObject *res = NULL;
    uint64_t *live_n = NULL;
    u128 *live_b = NULL;
    U64Slot *csyms_sorted = NULL;
    size_t *cell_off = NULL;
    uint64_t *still_n = NULL;
    u128 *still_b = NULL;
    if (d->sites == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Decoder not initialised");
        return NULL;
    }
    for (int i = 0; i < NLISTS; i++)
        if ((lists[i] = PyList_New(0)) == NULL)
            goto done;
    PyObject *sites = lists[0], *chunks = lists[1], *cnames = lists[2], *locs = lists[3];
    PyObject *stats = lists[4], *prims = lists[5], *live = lists[6], *traces = lists[7];
    PyObject *comps = lists[8], *groups = lists[9], *csyms = lists[10], *cells = lists[11];

    for (size_t i = 0; i < d->nsites; i++) {
        Site *s = &d->sites[i];
        PyObject *it[3] = {U64(s->addr), U64(s->line), U64(s->traceno)};
        if (append_new(sites, tuple_of(3, it)) < 0)
            goto done;
    }
    for (size_t i = 0; i < d->nchunks; i++)
        if (append_new(chunks, PyBytes_FromStringAndSize((const char *)d->arena + d->chunks[i].off,
                                                         (Py_ssize_t)d->chunks[i].len)) < 0)
            goto done;
    for (size_t i = 0; i < d->ncnames; i++)
        if (append_new(cnames, PyBytes_FromStringAndSize((const char *)d->arena + d->cnames[i].off,
                                                         (Py_ssize_t)d->cnames[i].len)) < 0)
            goto done;
    for (size_t i = 0; i < d->nlocs; i++) {
        Loc *l = &d->locs[i];
        PyObject *it[8] = {U64(l->site), U64(l->rkind), U64(l->a), U64(l->b), U64(l->c), U64(l->d),
                           U64(d->loc_owner[2 * i]), U64(d->loc_owner[2 * i + 1])};
        if (append_new(locs, tuple_of(8, it)) < 0)
            goto done;
    }
    for (int e = 0; e < 3; e++) {
        for (size_t i = 0; i < d->nsites; i++) {
            Stat *st = &d->stats[e][i];
            if (!st->seen)
                continue;
            PyObject *it[6] = {U64(e), U64(i), U64(st->num), py_u128(st->alloc), py_u128(st->free), U64(st->loc)};
            if (append_new(stats, tuple_of(6, it)) < 0)
                goto done;
        }
    }
    for (size_t i = 0; i < d->nprims; i++) {
        Prim *p = &d->prims[i];
        PyObject *it[7] = {U64(p->etype), U64(p->site), U64(p->csite), U64(p->loc),
                           py_u128(p->allocated), py_u128(p->freed), U64(p->count)};
        if (append_new(prims, tuple_of(7, it)) < 0)
            goto done;
    }
    live_n = calloc(d->nlocs + 1, sizeof(uint64_t));
    live_b = calloc(d->nlocs + 1, sizeof(u128));
    if (live_n == NULL || live_b == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t j = 0; j <= d->heap.mask; j++) {
        HeapSlot *h = &d->heap.slots[j];
        if (!h->loc1)
            continue;
        live_n[h->loc1 - 1]++;
        live_b[h->loc1 - 1] += slot_size(d, h);
    }
    for (size_t i = 0; i < d->nlocs; i++) {
        if (!live_n[i])
            continue;
        PyObject *it[3] = {U64(i), U64(live_n[i]), py_u128(live_b[i])};
        if (append_new(live, tuple_of(3, it)) < 0)
            goto done;
    }
    for (size_t j = 0; j <= d->traces.mask; j++) {
        U64Slot *t = &d->traces.slots[j];
        if (!t->val)
            continue;
        TraceStart *ts = &d->trace_starts[t->val - 1];
        PyObject *it[3] = {U64(t->key), U64(ts->addr), U64(ts->line)};
        if (append_new(traces, tuple_of(3, it)) < 0)
            goto done;
    }
    for (int level = 0; level < 2; level++) {
        for (size_t i = 0; i < d->nowners[level]; i++) {
            Owner *o = &d->owners[level][i];
            PyObject *it[6] = {U64(o->first_loc), U64(o->allocs), U64(o->frees), U64(o->chunks),
                               py_u128(o->live), py_u128(o->peak)};
            if (append_new(level ? groups : comps, tuple_of(6, it)) < 0)
                goto done;
        }
    }
    csyms_sorted = malloc((d->cfunc.count ? d->cfunc.count : 1) * sizeof(U64Slot));
    if (csyms_sorted == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t ncsyms = 0;
    for (size_t j = 0; j <= d->cfunc.mask; j++)
        if (d->cfunc.slots[j].val)
            csyms_sorted[ncsyms++] = d->cfunc.slots[j];
    qsort(csyms_sorted, ncsyms, sizeof(U64Slot), cmp_slot_addr);
    for (size_t i = 0; i < ncsyms; i++) {
        uint64_t v = csyms_sorted[i].val;
        PyObject *it[3] = {U64(csyms_sorted[i].key), U64(csym_name(v)), U64((v & CSYM_MULTI) ? 1 : 0)};
        if (append_new(csyms, tuple_of(3, it)) < 0)
            goto done;
    }
    /* Cells, with what the chunks placed in each are still live at the end. A group's cells are
       those written out, then that of the current window when it had events there (index n). */
    size_t ngroups = d->nowners[1], ncells = 0;
    cell_off = malloc((ngroups + 1) * sizeof(size_t));
    if (cell_off == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t g = 0; g < ngroups; g++) {
        cell_off[g] = ncells;
        ncells += d->gcells[g].n + (d->owners[1][g].wpend ? 1 : 0);
    }
    still_n = calloc(ncells + 1, sizeof(uint64_t));
    still_b = calloc(ncells + 1, sizeof(u128));
    if (still_n == NULL || still_b == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t j = 0; j <= d->heap.mask; j++) {
        HeapSlot *h = &d->heap.slots[j];
        if (!h->loc1)
            continue;
        uint32_t g = d->loc_owner[2 * (h->loc1 - 1) + 1];
        uint32_t w = slot_window(h);
        size_t i = w == d->window ? d->gcells[g].n : find_cell(&d->gcells[g], w);
        if (i == d->gcells[g].n && !(w == d->window && d->owners[1][g].wpend))
            continue; /* cannot happen: placing a chunk makes its window's cell */
        still_n[cell_off[g] + i]++;
        still_b[cell_off[g] + i] += slot_size(d, h);
    }
    for (size_t g = 0; g < ngroups; g++) {
        Owner *o = &d->owners[1][g];
        size_t n = d->gcells[g].n;
        for (size_t i = 0; i < n + (o->wpend ? 1 : 0); i++) {
            Cell pending = {o->wbytes, o->live, o->wchunks, d->window};
            Cell *c = i < n ? &d->gcells[g].cells[i] : &pending;
            PyObject *it[7] = {U64(g), U64(c->window), U64(c->chunks), py_u128(c->bytes), py_u128(c->live),
                               U64(still_n[cell_off[g] + i]), py_u128(still_b[cell_off[g] + i])};
            if (append_new(cells, tuple_of(7, it)) < 0)
                goto done;
        }
    }
    PyObject *counts[NCOUNTS];
    for (int i = 0; i < NCOUNTS; i++)
        counts[i] = U64(d->counts[i]);
    PyObject *nsyms[2] = {U64(d->lfunc.count), U64(d->cfunc.count)};
    PyObject *windows[3] = {U64(d->markers), U64(d->stride), U64((uint64_t)d->window + 1)};
    PyObject *items[15] = {sites, chunks, cnames, locs, stats, prims, live, traces,
                           tuple_of(NCOUNTS, counts), tuple_of(2, nsyms), comps, groups, csyms,
                           tuple_of(3, windows), cells};
    for (int i = 0; i < NLISTS; i++)
        lists[i] = NULL; /* tuple_of owns them now */
    res = tuple_of(15, items);
done:
    for (int i = 0; i < NLISTS; i++)
        Py_XDECREF(lists[i]);
    free(live_n);
    free(live_b);
    free(csyms_sorted);
    free(cell_off);
    free(still_n);
    free(still_b);
    return res;
}

/* The live chunks themselves, for joining with a heap snapshot: [(addr, size, loc)] in no order. */
static PyObject *Decoder_heap(Decoder *d, PyObject *Py_UNUSED(ignored))
{
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    for (size_t j = 0; j <= d->heap.mask; j++) {
        HeapSlot *h = &d->heap.slots[j];
        if (!h->loc1)
            continue;
        PyObject *item = Py_BuildValue("(KKK)", (unsigned long long)h->addr,
                                       (unsigned long long)slot_size(d, h), (unsigned long long)(h->loc1 - 1));
        if (item == NULL || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(item);
    }
    return out;
}

static PyMethodDef Decoder_methods[] = {
    {"feed", (PyCFunction)Decoder_feed, METH_VARARGS,
     "feed(data, base, final=False) -> (consumed, status, need): decode every complete record in data."},
    {"phase", (PyCFunction)Decoder_phase, METH_NOARGS, "Where in the stream the decoder is."},
    {"error", (PyCFunction)Decoder_error, METH_NOARGS,
     "(code, record offset, error offset, value) of the error that stopped decoding, or None."},
    {"result", (PyCFunction)Decoder_result, METH_NOARGS, "The aggregated data, as plain tuples and lists."},
    {"heap", (PyCFunction)Decoder_heap, METH_NOARGS, "The live chunks: [(addr, size, loc)], in no order."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ljprof.profilers.memprof._cdecode.Decoder",
    .tp_basicsize = sizeof(Decoder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Decodes a memprof stream fed in pieces and aggregates it as Tarantool's parser does.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Decoder_init,
    .tp_dealloc = (destructor)Decoder_dealloc,
    .tp_methods = Decoder_methods,
};

static struct PyModuleDef cdecode_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ljprof.profilers.memprof._cdecode",
    .m_doc = "The C decoder of memprof streams (see _pydecode.py for the same in Python).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__cdecode(void)
{
    if (PyType_Ready(&DecoderType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&cdecode_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&DecoderType);
    if (PyModule_AddObject(m, "Decoder", (PyObject *)&DecoderType) < 0) {
        Py_DECREF(&DecoderType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
