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

int luaopen_ljprof_sampler(lua_State *L) {
  static const luaL_Reg api[] = {{"start", l_start}, {"stop", l_stop}, {"now", l_now}, {"nudge", l_nudge},
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
