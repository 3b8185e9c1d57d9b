-- memprof's part of the harness (see ljprof/harness/run.lua): switch
-- Tarantool's memory profiler on and off, with timed markers in its stream.
return function(ctx)
  local out, record, now, enabled = ctx.out, ctx.record, ctx.now, ctx.enabled

  -- memprof windows: memprof's events carry no time, so the harness puts
  -- markers in its stream. A function of its own chunk ("=ljprof_marker"), kept
  -- out of the JIT, allocates one table: an ALLOC event with a site no target
  -- has, and the harness logs each marker's time ("window N"). It is called
  -- from a jit.profile callback, which runs at the VM's next safe point, so
  -- markers arrive while compiled loops run too. jit.profile's timer counts CPU
  -- time (ITIMER_PROF): it ticks every 1 ms of CPU and a marker is made when
  -- the wall clock has passed the next window boundary, so a mostly idle target
  -- (a bot waiting in select) gets its markers about on time as well. A target
  -- blocked in C gets its marker when it returns. sysprof uses the same signal
  -- (SIGPROF): with sysprof on, there are no timed markers.
  local marker = assert(load("return function() return {} end", "=ljprof_marker"))()
  jit.off(marker)
  local windows_on = false

  local function start_windows(seconds)
    local has_profile, profile = pcall(require, "jit.profile")
    if not seconds or seconds <= 0 or not has_profile or enabled.sysprof then return end
    local n, next_at = 0, now() + seconds
    profile.start("i1", function()
      local t = now()
      if t < next_at then return end
      n = n + 1
      marker()
      record("window", n)
      next_at = next_at + seconds * math.max(1, math.floor((t - next_at) / seconds) + 1)
    end)
    windows_on = true
  end

  local function stop_windows()
    if windows_on then require("jit.profile").stop() end
    windows_on = false
  end

  return {
    start = function(o)
      local ok, err = misc.memprof.start(out .. "/" .. o.path)
      if ok then start_windows(o.windows) end
      return ok, err
    end,
    stop = function()
      stop_windows()
      -- What is garbage now would read as live at the end: collect it first.
      collectgarbage("collect")
      return misc.memprof.stop()
    end,
  }
end
