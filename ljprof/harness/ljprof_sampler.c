/*
 * ljprof_sampler: samples collectgarbage("count") and, on Tarantool's
 * LuaJIT, misc.getmetrics() from a background thread, as CSV.
 *
 * Why a thread: a Lua hook runs only while the interpreter runs, never in a
 * compiled trace and never while the target blocks in C (sleep, select), so a
 * hook-driven series would stop exactly when a bot loop is busy or idle. The
 * thread only reads counters of the global state (g->gc.total through
 * lua_gc(LUA_GCCOUNT[B]), and luaM_metrics, which copies fields and writes
 * nothing), so it never touches a Lua stack. Reads of aligned machine words
 * race with the VM's writes but cannot tear; a sample is as fresh as the
 * last write the CPU made visible.
 *
 * All signals are blocked in the thread, so SIGINT (luajit's "interrupted!")
 * and sysprof's SIGPROF keep going to the Lua thread.
 *
 * With the Lua heap, the gc series has the container's memory as the kernel
 * counts it (the cgroup's memory.current, or memory.usage_in_bytes on cgroup
 * v1), so native memory that Lua does not see (C modules, malloc'd buffers,
 * the profilers' own) shows on the same clock. Inside a container the
 * cgroup's files are its own. Outside one, or where neither file is readable,
 * the column is left out.
 *
 * Nudges: memprof's window markers (ljprof/profilers/memprof/harness.lua)
 * come from a jit.profile callback, whose timer counts CPU time; a target
 * that mostly waits (a bot in select) would get few. While nudging is on,
 * the thread also sends the Lua thread SIGWINCH at each wall-clock window
 * boundary; its handler sets a one-shot count hook (as luajit.c's SIGINT
 * handler sets its hook), and the hook calls the given Lua function. SIGWINCH
 * is ignored by default, so a signal that arrives after nudging stopped does
 * nothing; hooks are not checked inside compiled traces, which jit.profile's
 * own ticks cover. A target that sets a hook of its own is left alone.
 *
 * Lua API (require "ljprof_sampler"):
 *   start{gc = path|nil, metrics = path|nil, interval = seconds} -> true | nil, err
 *   stop() -> samples taken
 *   now() -> seconds since the module was loaded (the CSVs' clock)
 *   nudge(seconds, fn) -> true | nil, err: call fn about every `seconds` of wall time (needs start)
 *   nudge(0): stop nudging
 *   sysprof_start{path =, mode = "L"|"C"|"D", interval = ms, buffer = bytes} -> true | nil, err
 *   sysprof_stop() -> {samples =, INTERP =, LFUNC =, ...} | nil, err
 *
 * sysprof (Tarantool's fork only: compiled where lmisclib.h declares it) is
 * started from here, not with misc.sysprof.start, for two settings Lua
 * cannot make:
 * - the stream's buffer: sysprof writes only when its buffer is full, and a
 *   target it kills loses the rest (misc.sysprof's is 8 MiB, 128 KiB with
 *   ljprof's stream-buffer fix); ours is `buffer` bytes (a few KB: one write
 *   every second or so), written by our writer straight to the file;
 * - the backtracer: in mode L sysprof's default one calls libgcc's
 *   backtrace() inside the SIGPROF handler, which can deadlock when the
 *   signal lands inside the unwinder (an error thrown by the target); mode L
 *   records no host frames worth that risk, so a no-op backtracer is set.
 *   Mode C keeps the default (host stacks are the point of it).
 * The writer and the stop callback are process-wide; their context starts
 * with the file descriptor, like misc.sysprof's own, so misc.sysprof.start
 * still works after us (its context is then not freed: a leak of one buffer).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lauxlib.h"
#include "lua.h"
#ifdef LJPROF_HAVE_LMISCLIB
#include "lmisclib.h"
#endif
#if defined(LJPROF_HAVE_LMISCLIB) && defined(LUAM_SYSPROF_LEAF)
#define LJPROF_HAVE_SYSPROF 1
#endif

static struct {
  lua_State *L;
  FILE *gc;
  FILE *metrics;
  int cgroup_fd; /* the container's memory counter, or -1 */
  double interval;
  int running;
  int stopping;
  long samples;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  struct timespec t0;
  /* nudges (see above) */
  pthread_t lua_thread;
  int nudging;
  double nudge_every;
  double next_nudge;
  int nudge_ref;
  struct sigaction old_winch;
} S = {.lock = PTHREAD_MUTEX_INITIALIZER, .cgroup_fd = -1, .nudge_ref = LUA_NOREF};

static void nudge_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  if (S.nudge_ref == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, S.nudge_ref);
  if (lua_pcall(L, 0, 0, 0) != 0) lua_pop(L, 1);
}

static void on_nudge(int sig) {
  (void)sig;
  if (S.nudge_ref != LUA_NOREF && lua_gethook(S.L) == NULL) lua_sethook(S.L, nudge_hook, LUA_MASKCOUNT, 1);
}

/* cgroup v2 first, then v1 */
static const char *const CGROUP_MEMORY[] = {"/sys/fs/cgroup/memory.current",
                                            "/sys/fs/cgroup/memory/memory.usage_in_bytes", NULL};

static int open_cgroup_memory(void) {
  for (const char *const *path = CGROUP_MEMORY; *path; path++) {
    char buf[32];
    int fd = open(*path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && pread(fd, buf, sizeof buf, 0) > 0) return fd;
    if (fd >= 0) close(fd);
  }
  return -1;
}

/* the counter in KB, or -1 when it cannot be read this time */
static double cgroup_kb(void) {
  char buf[32];
  ssize_t n = pread(S.cgroup_fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return -1;
  buf[n] = '\0';
  return (double)strtoull(buf, NULL, 10) / 1024.0;
}

static double since_start(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)(ts.tv_sec - S.t0.tv_sec) + (double)(ts.tv_nsec - S.t0.tv_nsec) / 1e9;
}

static void take_sample(void) {
  double t = since_start();
  if (S.gc) {
    int kb = lua_gc(S.L, LUA_GCCOUNT, 0);
    int rest = lua_gc(S.L, LUA_GCCOUNTB, 0);
    /* the same number collectgarbage("count") returns */
    fprintf(S.gc, "%.6f,%.4f", t, (double)kb + (double)rest / 1024.0);
    if (S.cgroup_fd >= 0) {
      double container = cgroup_kb();
      if (container >= 0) fprintf(S.gc, ",%.0f", container);
      else fputc(',', S.gc);
    }
    fputc('\n', S.gc);
    fflush(S.gc);
  }
#ifdef LJPROF_HAVE_LMISCLIB
  if (S.metrics) {
    struct luam_Metrics m;
    luaM_metrics(S.L, &m);
    fprintf(S.metrics, "%.6f,%zu,%zu,%zu,%zu,%zu,%zu,%zu,%zu,%zu,%zu,%zu,%zu,%zu,%zu,%zu,%zu,%zu,%zu,%u\n", t,
            m.strhash_hit, m.strhash_miss, m.gc_strnum, m.gc_tabnum, m.gc_udatanum, m.gc_cdatanum, m.gc_total,
            m.gc_freed, m.gc_allocated, m.gc_steps_pause, m.gc_steps_propagate, m.gc_steps_atomic,
            m.gc_steps_sweepstring, m.gc_steps_sweep, m.gc_steps_finalize, m.jit_snap_restore,
            m.jit_trace_abort, m.jit_mcode_size, m.jit_trace_num);
    fflush(S.metrics);
  }
#endif
  S.samples++;
}

static void *sampler_main(void *arg) {
  (void)arg;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  pthread_mutex_lock(&S.lock);
  for (;;) {
    long ns = next.tv_nsec + (long)(S.interval * 1e9);
    next.tv_sec += ns / 1000000000L;
    next.tv_nsec = ns % 1000000000L;
    while (!S.stopping && pthread_cond_timedwait(&S.wake, &S.lock, &next) != ETIMEDOUT) {
    }
    if (S.stopping) break;
    take_sample();
    if (S.nudging && since_start() >= S.next_nudge) {
      pthread_kill(S.lua_thread, SIGWINCH);
      while (S.next_nudge <= since_start()) S.next_nudge += S.nudge_every;
    }
  }
  pthread_mutex_unlock(&S.lock);
  return NULL;
}

static FILE *open_csv(lua_State *L, const char *field, const char *header) {
  FILE *f;
  const char *path;
  lua_getfield(L, 1, field);
  path = lua_tostring(L, -1);
  lua_pop(L, 1);
  if (path == NULL) return NULL;
  f = fopen(path, "w");
  if (f == NULL) luaL_error(L, "ljprof_sampler: cannot open %s: %s", path, strerror(errno));
  fputs(header, f);
  fflush(f);
  return f;
}

static int l_start(lua_State *L) {
  sigset_t all, old;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (S.running) {
    lua_pushnil(L);
    lua_pushstring(L, "the sampler is already running");
    return 2;
  }
  lua_getfield(L, 1, "interval");
  S.interval = luaL_optnumber(L, -1, 0.1);
  lua_pop(L, 1);
  if (S.interval < 0.001) S.interval = 0.001;
  S.L = L;
  S.cgroup_fd = open_cgroup_memory();
  S.gc = open_csv(L, "gc", S.cgroup_fd >= 0 ? "t,kb,container_kb\n" : "t,kb\n");
#ifdef LJPROF_HAVE_LMISCLIB
  S.metrics = open_csv(L, "metrics",
                       "t,strhash_hit,strhash_miss,gc_strnum,gc_tabnum,gc_udatanum,gc_cdatanum,gc_total,"
                       "gc_freed,gc_allocated,gc_steps_pause,gc_steps_propagate,gc_steps_atomic,"
                       "gc_steps_sweepstring,gc_steps_sweep,gc_steps_finalize,jit_snap_restore,"
                       "jit_trace_abort,jit_mcode_size,jit_trace_num\n");
#else
  lua_getfield(L, 1, "metrics");
  if (!lua_isnil(L, -1)) return luaL_error(L, "ljprof_sampler: misc.getmetrics is not in this LuaJIT");
  lua_pop(L, 1);
#endif
  S.stopping = 0;
  S.samples = 0;
  take_sample(); /* the first value, at the start, before the thread exists: a run has at least two */
  /* The thread inherits this mask: it takes no signal meant for the VM. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  if (pthread_create(&S.thread, NULL, sampler_main, NULL) != 0) {
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return luaL_error(L, "ljprof_sampler: cannot start the sampling thread");
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  S.running = 1;
  lua_pushboolean(L, 1);
  return 1;
}

static void stop_nudging(lua_State *L) {
  pthread_mutex_lock(&S.lock);
  int was = S.nudging;
  S.nudging = 0; /* from here on the thread sends nothing */
  pthread_mutex_unlock(&S.lock);
  if (was) sigaction(SIGWINCH, &S.old_winch, NULL);
  if (S.nudge_ref != LUA_NOREF) {
    int ref = S.nudge_ref;
    S.nudge_ref = LUA_NOREF;
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
  }
}

static int l_stop(lua_State *L) {
  stop_nudging(L);
  if (S.running) {
    pthread_mutex_lock(&S.lock);
    S.stopping = 1;
    pthread_cond_signal(&S.wake);
    pthread_mutex_unlock(&S.lock);
    pthread_join(S.thread, NULL);
    take_sample(); /* the last value, at the end */
    if (S.gc) fclose(S.gc);
    if (S.metrics) fclose(S.metrics);
    S.gc = S.metrics = NULL;
    if (S.cgroup_fd >= 0) close(S.cgroup_fd);
    S.cgroup_fd = -1;
    S.running = 0;
  }
  lua_pushinteger(L, (lua_Integer)S.samples);
  return 1;
}

static int l_nudge(lua_State *L) {
  double every = luaL_checknumber(L, 1);
  struct sigaction sa;
  stop_nudging(L);
  if (every <= 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (!S.running) {
    lua_pushnil(L);
    lua_pushstring(L, "the sampler is not running");
    return 2;
  }
  lua_pushvalue(L, 2);
  S.nudge_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_nudge;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGWINCH, &sa, &S.old_winch);
  pthread_mutex_lock(&S.lock);
  S.lua_thread = pthread_self();
  S.nudge_every = every;
  S.next_nudge = since_start() + every;
  S.nudging = 1;
  pthread_mutex_unlock(&S.lock);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_now(lua_State *L) {
  lua_pushnumber(L, since_start());
  return 1;
}

#ifdef LJPROF_HAVE_SYSPROF
static struct {
  int fd; /* first, as in misc.sysprof's context (see above) */
  unsigned char *buf;
  int running;
} P = {.fd = -1};

/* sysprof's buffer is full, or it stops: write it all now (runs in the SIGPROF handler: write() only) */
static size_t sysprof_writer(const void **data, size_t len, void *ctx) {
  int fd = *(const int *)ctx;
  const char *p = *data;
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, p + done, len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      *data = NULL; /* sysprof stops streaming */
      return done;
    }
    done += (size_t)n;
  }
  return done;
}

static int sysprof_on_stop(void *ctx, uint8_t *buf) {
  (void)buf;
  if (ctx == NULL) return 0;
  int fd = *(int *)ctx;
  *(int *)ctx = -1;
  return fd >= 0 ? close(fd) : 0;
}

static void no_backtrace(void *(*frame_writer)(int frame_no, void *addr)) { (void)frame_writer; }

static int sysprof_fail(lua_State *L, const char *what, int status) {
  static const char *const why[] = {"ok", "misuse (bad options, or sysprof is not configured)",
                                    "already running", "out of memory", "I/O error"};
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s%s%s", what, status >= 0 && status <= 4 ? why[status] : "failed",
                  status == PROFILE_ERRIO ? ": " : "", status == PROFILE_ERRIO ? strerror(errno) : "");
  return 2;
}

static int l_sysprof_start(lua_State *L) {
  struct luam_Sysprof_Options opt;
  const char *mode, *path;
  int status;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (P.running) return sysprof_fail(L, "sysprof", PROFILE_ERRRUN);
  lua_getfield(L, 1, "mode");
  mode = luaL_optstring(L, -1, "L");
  lua_getfield(L, 1, "path");
  path = lua_tostring(L, -1);
  lua_getfield(L, 1, "interval");
  memset(&opt, 0, sizeof opt);
  opt.interval = (uint64_t)luaL_optinteger(L, -1, 10);
  lua_getfield(L, 1, "buffer");
  size_t len = (size_t)luaL_optinteger(L, -1, 4096);
  if (opt.interval < 1) opt.interval = 1;
  if (len < 512) len = 512;
  switch (mode[0]) {
  case 'D': opt.mode = LUAM_SYSPROF_DEFAULT; break;
  case 'L': opt.mode = LUAM_SYSPROF_LEAF; break;
  case 'C': opt.mode = LUAM_SYSPROF_CALLGRAPH; break;
  default: return luaL_error(L, "ljprof_sampler: sysprof mode must be D, L or C, not %s", mode);
  }
  if (opt.mode != LUAM_SYSPROF_DEFAULT) {
    if (path == NULL) return luaL_error(L, "ljprof_sampler: sysprof needs a path in mode %s", mode);
    P.fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    if (P.fd < 0) return luaL_error(L, "ljprof_sampler: cannot open %s: %s", path, strerror(errno));
    P.buf = malloc(len);
    if (P.buf == NULL) { close(P.fd); P.fd = -1; return luaL_error(L, "ljprof_sampler: out of memory"); }
    opt.buf = P.buf;
    opt.len = len;
    opt.ctx = &P;
  }
  luaM_sysprof_set_writer(sysprof_writer);
  luaM_sysprof_set_on_stop(sysprof_on_stop);
  luaM_sysprof_set_backtracer(opt.mode == LUAM_SYSPROF_LEAF ? no_backtrace : NULL);
  status = luaM_sysprof_start(L, &opt);
  if (status != PROFILE_SUCCESS) {
    if (P.fd >= 0) close(P.fd); /* the stop callback closed it when sysprof called it */
    P.fd = -1;
    free(P.buf);
    P.buf = NULL;
    return sysprof_fail(L, "sysprof did not start", status);
  }
  P.running = 1;
  lua_pushboolean(L, 1);
  return 1;
}

static int l_sysprof_stop(lua_State *L) {
  struct luam_Sysprof_Counters c;
  int status;
  if (!P.running) return sysprof_fail(L, "sysprof", PROFILE_ERRUSE);
  P.running = 0;
  status = luaM_sysprof_stop(L);
  if (P.fd >= 0) close(P.fd);
  P.fd = -1;
  free(P.buf);
  P.buf = NULL;
  if (status != PROFILE_SUCCESS) return sysprof_fail(L, "sysprof did not stop cleanly", status);
  if (luaM_sysprof_report(&c) != PROFILE_SUCCESS) return sysprof_fail(L, "sysprof's counters", PROFILE_ERRUSE);
  lua_newtable(L);
  static const char *const names[] = {"INTERP", "LFUNC", "FFUNC", "CFUNC", "GC", "EXIT", "RECORD", "OPT", "ASM",
                                      "TRACE", "samples"};
  const uint64_t *v = (const uint64_t *)&c; /* the counters, in vmstate order, then samples */
  for (int i = 0; i < 11; i++) {
    lua_pushnumber(L, (lua_Number)v[i]);
    lua_setfield(L, -2, names[i]);
  }
  return 1;
}
#endif

int luaopen_ljprof_sampler(lua_State *L) {
  static const luaL_Reg api[] = {{"start", l_start}, {"stop", l_stop}, {"now", l_now}, {"nudge", l_nudge},
#ifdef LJPROF_HAVE_SYSPROF
                                 {"sysprof_start", l_sysprof_start}, {"sysprof_stop", l_sysprof_stop},
#endif
                                 {NULL, NULL}};
  if (S.t0.tv_sec == 0 && S.t0.tv_nsec == 0) {
    pthread_condattr_t attr;
    clock_gettime(CLOCK_MONOTONIC, &S.t0);
    /* the sampling deadlines are on the monotonic clock, not the wall clock */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&S.wake, &attr);
    pthread_condattr_destroy(&attr);
  }
  lua_newtable(L);
  luaL_register(L, NULL, api);
  return 1;
}
