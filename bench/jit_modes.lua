-- The jit profiler's harness part (ljprof/profilers/jit/harness.lua) around a
-- Lua program, outside ljprof's runner, to time its modes (bench/jit_modes.sh):
--   luajit jit_modes.lua MODE LOOM_MAX_TRACES SCRIPT [ARGS...]   (MODE: none|summary|dump|loom)
-- Prints the program's time, the time the harness took to stop (loom renders
-- its page then) and the peak RSS to stderr; the files land in /out.
local mode, cap, script = arg[1], tonumber(arg[2]), arg[3]
local clock = os.clock
local h = dofile("/h/harness.lua")({ out = "/out", record = function() end, now = clock, enabled = {} })
local o = { mode = mode, path = ({ summary = "jit.v.txt", dump = "jit.dump.txt", loom = "loom.v.txt" })[mode],
  status = "jit.status.txt", flags = "+rsT", loom_max_traces = cap, loom_page = "loom.html",
  loom_template = "/loom/loom.html", jquery = "/jq/jquery.min.js" }
if mode ~= "none" then assert(h.start(o)) end
local t0 = clock()
local chunk = assert(loadfile(script))
local targs = {}
for i = 4, #arg do targs[#targs + 1] = arg[i] end
arg = targs
chunk(unpack(targs))
local t1 = clock()
if mode ~= "none" then assert(h.stop(o)) end
local st = io.open("/proc/self/status"):read("*a")
io.stderr:write(("run %.2f s, stop %.2f s, peak RSS %s\n"):format(t1 - t0, clock() - t1, st:match("VmHWM:%s*(%d+ kB)")))
