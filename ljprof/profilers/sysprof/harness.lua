-- sysprof's part of the harness (see ljprof/harness/run.lua): Tarantool's
-- sampling profiler, started through ljprof_sampler (our writer, a small
-- buffer, a no-op backtracer in mode L: see ljprof/harness/ljprof_sampler.c).
-- At start it writes the image's fast-function names (jit.vmdef's ffnames,
-- "<ffid> <name>" lines: ffids differ between builds); at stop, sysprof's
-- VM-state counters ("<state> <count>" lines), the only data of mode D.
return function(ctx)
  local has_sampler, sampler = pcall(require, "ljprof_sampler")

  local function write(path, lines)
    local f, err = io.open(ctx.out .. "/" .. path, "w")
    if not f then return nil, err end
    f:write(table.concat(lines, "\n"), "\n")
    f:close()
    return true
  end

  return {
    start = function(o)
      if not (has_sampler and sampler.sysprof_start) then
        return nil, "ljprof_sampler has no sysprof_start in this image (rebuild it: invoke build --rebuild)"
      end
      local ok_vmdef, vmdef = pcall(require, "jit.vmdef")
      if ok_vmdef then
        local names = {}
        for id = 0, 255 do
          if vmdef.ffnames[id] then names[#names + 1] = id .. " " .. vmdef.ffnames[id] end
        end
        write(o.ffnames, names)
      end
      return sampler.sysprof_start({path = ctx.out .. "/" .. o.path, mode = o.mode,
                                    interval = o.interval_ms, buffer = o.buffer})
    end,
    stop = function(o)
      local counters, err = sampler.sysprof_stop()
      if not counters then return nil, err end
      local lines = {}
      for _, k in ipairs({"samples", "INTERP", "LFUNC", "FFUNC", "CFUNC", "GC", "EXIT", "RECORD", "OPT",
                          "ASM", "TRACE"}) do
        lines[#lines + 1] = k .. " " .. string.format("%d", counters[k])
      end
      return write(o.counters, lines)
    end,
  }
end
