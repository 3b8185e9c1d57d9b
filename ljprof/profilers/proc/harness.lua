-- proc's part of the harness (see ljprof/harness/run.lua): the kernel's own
-- figures for the luajit process, read from /proc/self when proc is switched
-- on and off, as "<when> <time>" lines each followed by /proc/self/stat and the
-- lines of /proc/self/status. No process is started and nothing is sampled.
return function(ctx)
  local function snapshot(path, when)
    local f, err = io.open(ctx.out .. "/" .. path, when == "start" and "w" or "a")
    if not f then return nil, err end
    local stat = io.open("/proc/self/stat")
    local status = io.open("/proc/self/status")
    if not stat or not status then f:close() return nil, "no /proc/self here" end
    f:write(when, " ", string.format("%.6f", ctx.now()), "\n", stat:read("*l"), "\n", status:read("*a"))
    stat:close()
    status:close()
    f:close()
    return true
  end
  return {
    start = function(o) return snapshot(o.path, "start") end,
    stop = function(o) return snapshot(o.path, "stop") end,
  }
end
