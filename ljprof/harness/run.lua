-- ljprof's harness: runs a target script inside the container exactly as
-- `luajit script.lua args...` would, with the profilers a profile asks for
-- switched on before the target starts and off after it ends, on every way
-- it can end: return, error(), os.exit(n), and SIGINT ("interrupted!").
--
--   luajit /ljprof/harness/run.lua OPTIONS.lua script.lua [args...]
--
-- OPTIONS.lua (written by ljprof.runner) returns
--   { out = "/ljprof/out", profilers = { memprof = {path=, start=, windows=,
--     harness = "/ljprof/profilers/memprof/harness.lua"}, gc = {path=, interval=},
--     metrics = {path=, interval=} } }
-- The harness writes out/harness.tsv: one "event<TAB>t<TAB>detail" line per
-- start, profiler switch, mark and the ending, on the sampler's clock.
--
-- Targets may call a small API (all no-ops for profilers that are off):
--   local ok, ljprof = pcall(require, "ljprof")
--   ljprof.mark("warm-up done")      -- a point in time on the timeline
--   ljprof.start("memprof") / ljprof.stop("memprof")   -- with memprof start = manual
--   ljprof.snapshot("after warm-up")  -- a heap snapshot, with the snapshot profiler on

local real_exit = os.exit
-- A killed target keeps what it printed: line-buffered like a terminal, not
-- block-buffered as a pipe to the engine would make it (stderr is unbuffered).
io.stdout:setvbuf("line")
local options_file, script = arg[1], arg[2]
local options = dofile(options_file)
local out = options.out
local enabled = options.profilers or {}

local has_sampler, sampler = pcall(require, "ljprof_sampler")
local function now() return has_sampler and sampler.now() or os.clock() end

local log = assert(io.open(out .. "/harness.tsv", "w"))
local function record(event, detail)
  detail = tostring(detail or ""):gsub("[\t\n\r]", " ")
  log:write(event, "\t", string.format("%.6f", now()), "\t", detail, "\n")
  log:flush()
end

-- What switching each profiler on and off means: each profiler that needs the
-- harness has a harness.lua in its package (ljprof/profilers/<name>/), mounted
-- read-only at /ljprof/profilers; the options name it. It returns a function
-- that takes this context and gives {start = function(o), stop = function(o)},
-- each returning true or nil and an error, as misc.memprof does.
local running = {}
local switches = {}

-- jit.profile has one timer per VM; profilers share it (cpu samples with it,
-- memprof's windows tick from it): timer.subscribe(name, fn, ms) calls
-- fn(thread, samples, vmstate) on every tick, at the interval of the one
-- subscriber that gives ms (else 10 ms); timer.unsubscribe(name). Each change
-- restarts jit.profile with the subscribers' callbacks.
local timer = { users = {} }
function timer.restart()
  local has_profile, profile = pcall(require, "jit.profile")
  if not has_profile then return nil, "this LuaJIT has no jit.profile" end
  profile.stop()
  local fns, ms = {}, nil
  for _, user in pairs(timer.users) do
    fns[#fns + 1] = user.fn
    ms = user.ms or ms
  end
  if #fns == 0 then return true end
  profile.start("li" .. (ms or 10), function(thread, samples, vmstate)
    for i = 1, #fns do fns[i](thread, samples, vmstate) end
  end)
  return true
end
function timer.subscribe(name, fn, ms)
  timer.users[name] = { fn = fn, ms = ms }
  return timer.restart()
end
function timer.unsubscribe(name)
  if not timer.users[name] then return true end
  timer.users[name] = nil
  return timer.restart()
end

local context = { out = out, record = record, now = now, enabled = enabled, timer = timer }
for name, o in pairs(enabled) do
  if o.harness then switches[name] = dofile(o.harness)(context) end
end

local function start(name)
  local o, switch = enabled[name], switches[name]
  if not o or not switch or running[name] then return false end
  local ok, err = switch.start(o)
  if not ok then
    record("error", name .. " did not start: " .. tostring(err))
    return nil, err
  end
  running[name] = true
  record("start", name)
  return true
end

local function stop(name)
  if not running[name] then return false end
  running[name] = nil
  local ok, err = switches[name].stop(enabled[name])
  record("stop", name .. (ok and "" or ": " .. tostring(err)))
  return ok, err
end

local sampling = false
local function start_sampling()
  if not (enabled.gc or enabled.metrics) then return end
  if not has_sampler then
    record("error", "ljprof_sampler is not in this image: gc and metrics are not sampled")
    return
  end
  local interval = math.min(enabled.gc and enabled.gc.interval or math.huge,
                            enabled.metrics and enabled.metrics.interval or math.huge)
  assert(sampler.start({
    gc = enabled.gc and out .. "/" .. enabled.gc.path or nil,
    metrics = enabled.metrics and out .. "/" .. enabled.metrics.path or nil,
    interval = interval,
  }))
  sampling = true
  record("start", "sampler")
end

-- Lua modules the target loaded from the image (luarocks trees, /usr/share/lua),
-- bundled for the run's sources/ so reports show their lines too:
-- "path<TAB>size\n" and the bytes, per file. The target's own folder is kept
-- by the runner from the host; ljprof's own files are left out.
local function bundle_image_sources()
  local f = io.open(out .. "/image-sources.bundle", "wb")
  if not f then return end
  local done = {}
  for name in pairs(package.loaded) do
    local path = type(name) == "string" and package.searchpath and package.searchpath(name, package.path)
    if path and not done[path] and path:sub(1, 1) == "/" and path:sub(1, 8) ~= "/ljprof/" then
      done[path] = true
      local src = io.open(path, "rb")
      local body = src and src:read("*a")
      if src then src:close() end
      if body then f:write(path, "\t", #body, "\n", body) end
    end
  end
  f:close()
end

-- Switch every profiler and the sampler off (memprof collects garbage first).
-- Called where the target's stack is still there when it can be: in os.exit,
-- and in the error handler (an error, or SIGINT's "interrupted!"), so what the
-- target still references counts as live and only its garbage as freed. After
-- a return, the target's locals are garbage too, and count so.
local function stop_all()
  for name in pairs(running) do
    if not switches[name].last then stop(name) end
  end
  for name in pairs(running) do stop(name) end -- those that asked to be last (a heap walk)
  if sampling then
    sampling = false
    sampler.stop()
    record("stop", "sampler")
  end
end

local finished = false
-- Stop everything and say how the target ended; runs once.
local function finish(how, code, message)
  if finished then return end
  finished = true
  stop_all()
  pcall(bundle_image_sources)
  record("end", how .. " " .. tostring(code) .. (message and (" " .. message) or ""))
  log:close()
end

-- The API a target may require. --------------------------------------------
package.preload["ljprof"] = function()
  return {
    active = true,
    mark = function(label) record("mark", label) end,
    -- A heap snapshot (with snapshot on): returns its label (made unique), or nil.
    snapshot = function(label)
      if running.snapshot then return switches.snapshot.take(enabled.snapshot, label) end
    end,
    start = start,
    stop = stop,
    now = now,
  }
end

-- os.exit(n) would skip our stop (and os.exit(n) without close=true leaves a
-- 0-byte memprof file): stop first, then exit closing the state.
os.exit = function(code, close)
  local status = code
  if code == nil or code == true then status = 0 elseif code == false then status = 1 end
  finish("exit", status)
  return real_exit(status, true)
end

-- The target's arg table and ... as plain luajit gives them. ----------------
-- arg[-1] and below are the interpreter and its options, as for the target.
local target_arg = { [0] = script }
for i, v in pairs(arg) do
  if type(i) == "number" and i < 0 then target_arg[i] = v end
end
for i = 3, #arg do target_arg[i - 2] = arg[i] end
arg = target_arg

record("begin", script)
start_sampling()
-- Those that asked to be last at the end start last (a heap walk): the first
-- snapshot then sees what the others loaded (jit.profile, loom), and so does
-- not count it as the target's.
for _, last in ipairs({ false, true }) do
  for name, o in pairs(enabled) do
    if switches[name] and o.start ~= "manual" and (switches[name].last == true) == last then start(name) end
  end
end

local chunk, load_err = loadfile(script)
if not chunk then
  io.stderr:write(arg[-1] or "luajit", ": ", load_err, "\n")
  finish("error", 1, load_err)
  real_exit(1, true)
end

-- The traceback luajit would print, without the harness's own frames.
local function traceback(err)
  pcall(stop_all) -- before the stack unwinds (see stop_all)
  if type(err) ~= "string" then return err end
  local lines = {}
  for line in debug.traceback(err, 2):gmatch("[^\n]+") do
    if not line:find("ljprof/harness/run.lua", 1, true) and not line:find("in function 'xpcall'", 1, true) then
      lines[#lines + 1] = line
    end
  end
  return table.concat(lines, "\n")
end

local ok, err = xpcall(chunk, traceback, unpack(arg, 1, #arg))
if ok then
  finish("return", 0)
  real_exit(0, true)
end
local text = tostring(err)
-- luajit turns SIGINT into this error (its handler sets a hook that throws it).
-- luajit's handler raises it through luaL_error, so a position may lead it.
local first_line = text:match("^[^\n]*")
local how = first_line:match("interrupted!$") and "interrupted" or "error"
io.stderr:write(arg[-1] or "luajit", ": ", text, "\n")
finish(how, 1, first_line)
real_exit(1, true)
