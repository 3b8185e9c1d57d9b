-- memprof's part of the harness (see ljprof/harness/run.lua): switch
-- Tarantool's memory profiler on and off, with timed markers in its stream.
return function(ctx)
  local out, record, now, enabled = ctx.out, ctx.record, ctx.now, ctx.enabled

  -- memprof windows: memprof's events carry no time, so the harness puts
  -- markers in its stream. A function of its own chunk ("=ljprof_marker"),
  -- kept out of the JIT, allocates one table: an ALLOC event with a site no
  -- target has, and the harness logs each marker's time ("window N"). A marker
  -- is made at the first tick after a wall-clock window boundary. Ticks come
  -- from two places:
  -- - jit.profile every 10 ms of CPU time (or cpu's interval when cpu is on:
  --   they share its one timer, ctx.timer): its callback runs at the VM's next
  --   safe point, inside compiled loops too, so a busy target gets its markers;
  -- - the sampler thread (ljprof_sampler.nudge) at each boundary of wall time,
  --   through a one-shot hook: a target that mostly waits (a bot in select)
  --   gets its markers on time too. It needs the sampler (gc or metrics on).
  -- A target blocked in C gets its marker when it returns. sysprof uses
  -- jit.profile's signal (SIGPROF): with sysprof on, only nudges make markers.
  local marker = assert(load("return function() return {} end", "=ljprof_marker"))()
  jit.off(marker)
  local ticking, nudging = false, false
  local has_sampler, sampler = pcall(require, "ljprof_sampler")

  local function start_windows(seconds)
    if not seconds or seconds <= 0 then return end
    local n, next_at = 0, now() + seconds
    local function tick()
      local t = now()
      if t < next_at then return end
      n = n + 1
      marker()
      record("window", n)
      next_at = next_at + seconds * math.max(1, math.floor((t - next_at) / seconds) + 1)
    end
    if not enabled.sysprof then  -- jit.profile's timer, shared with cpu (ctx.timer in run.lua)
      ticking = ctx.timer.subscribe("memprof", tick) or false
    end
    nudging = has_sampler and sampler.nudge(seconds, tick) or false
  end

  local function stop_windows()
    if nudging then sampler.nudge(0) end
    if ticking then ctx.timer.unsubscribe("memprof") end
    ticking, nudging = false, false
  end

  return {
    start = function(o)
      local ok, err = misc.memprof.start(out .. "/" .. o.path)
      if ok then start_windows(o.windows) end
      return ok, err
    end,
    stop = function()
      stop_windows()
      -- What is garbage now would read as live at the end: collect it first,
      -- twice: a userdata with a finalizer (a socket, a file) is finalized by
      -- one cycle and freed only by the next.
      collectgarbage("collect")
      collectgarbage("collect")
      return misc.memprof.stop()
    end,
  }
end
