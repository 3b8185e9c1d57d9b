-- cpu's part of the harness (see ljprof/harness/run.lua): LuaJIT's own
-- sampling profiler, jit.profile (what `luajit -jp` uses), on any LuaJIT.
-- Every `interval` of CPU time the VM calls back at its next safe point, with
-- the running thread and its VM state (N compiled, I interpreted, C, G GC,
-- J JIT compiler); the callback reads the stack with jit.profile.dumpstack
-- (root first, the innermost `depth` frames, each "path:line name") and counts
-- it in a Lua table: stack -> samples. jit.profile has one timer, shared with
-- memprof's windows through ctx.timer.
--
-- The counts are written whole, about every second and at the stop, to a
-- temporary file then renamed over raw/cpu.txt, so a killed target leaves the
-- last complete flush, never a half-written file. cpu.txt:
--   # ljprof cpu 1 interval_ms=10 depth=64 flushes=N final=0|1
--   <samples>\t<state letter>\t<frame>;<frame>;...
return function(ctx)
  local profile = require("jit.profile")
  local dumpstack = profile.dumpstack
  local counts, opts, flushes, last_flush = {}, nil, 0, 0
  local fmt = "pl fZ;"  -- per frame: "path:line name;", the last ";" zapped

  local function flush(final)
    local path = ctx.out .. "/" .. opts.path
    local f = io.open(path .. ".tmp", "w")
    if not f then return nil, "cannot write " .. path .. ".tmp" end
    flushes = flushes + 1
    f:write(string.format("# ljprof cpu 1 interval_ms=%g depth=%d flushes=%d final=%d\n",
                          opts.interval_ms, opts.depth, flushes, final and 1 or 0))
    for key, n in pairs(counts) do f:write(n, "\t", key, "\n") end
    f:close()
    return os.rename(path .. ".tmp", path)
  end

  local function sample(thread, samples, vmstate)
    local key = vmstate .. "\t" .. dumpstack(thread, fmt, -opts.depth)
    counts[key] = (counts[key] or 0) + samples
    local t = ctx.now()
    if t - last_flush >= 1 then
      last_flush = t
      flush(false)
    end
  end

  return {
    start = function(o)
      opts = o
      last_flush = ctx.now()
      local ok, err = flush(false)  -- an empty file at once: the run shows cpu started
      if not ok then return nil, err end
      return ctx.timer.subscribe("cpu", sample, o.interval_ms)
    end,
    stop = function()
      ctx.timer.unsubscribe("cpu")
      return flush(true)
    end,
  }
end
