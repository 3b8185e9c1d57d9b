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
 * Lua API (require "ljprof_sampler"):
 *   start{gc = path|nil, metrics = path|nil, interval = seconds} -> true | nil, err
 *   stop() -> samples taken
 *   now() -> seconds since the module was loaded (the CSVs' clock)
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
} S = {.lock = PTHREAD_MUTEX_INITIALIZER, .cgroup_fd = -1};

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

static int l_stop(lua_State *L) {
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

static int l_now(lua_State *L) {
  lua_pushnumber(L, since_start());
  return 1;
}

int luaopen_ljprof_sampler(lua_State *L) {
  static const luaL_Reg api[] = {{"start", l_start}, {"stop", l_stop}, {"now", l_now}, {NULL, NULL}};
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
