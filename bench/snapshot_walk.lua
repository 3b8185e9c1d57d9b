-- bench/snapshot_bench.py's part inside the container: build the heap of snapshot_heap.lua, take a
-- snapshot, grow the heap (a leak of `grow` records), take another; then, for the peer, diff the two.
--
--   luajit snapshot_walk.lua ljprof|peer N GROW OUT
--
-- ljprof: the snapshot profiler's walker (/ljprof/profilers/snapshot/harness.lua), files OUT/snapshot-01.txt
-- and -02.txt. peer: LuaMemorySnapshotDump's MemoryReferenceInfo.lua (on LUA_PATH), its DumpMemorySnapshot
-- twice and DumpMemorySnapshotComparedFile. Prints "walk WALL CPU" per snapshot and "diff WALL CPU" (seconds:
-- CLOCK_MONOTONIC and os.clock; each walk's own full GC included).
local ffi = require("ffi")
ffi.cdef [[ struct ljprof_ts { long s, ns; }; int clock_gettime(int, struct ljprof_ts *); ]]
local ts = ffi.new("struct ljprof_ts")
local function now()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.s) + tonumber(ts.ns) * 1e-9
end

local who, n, grow, out = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4]
arg = { [0] = "snapshot_heap.lua", tostring(n) }
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "snapshot_heap.lua")
arg = nil

local leak = {}
_G.leak = leak
local function more()
  for i = 1, grow do
    leak[i] = { id = i, name = ("leaked %d"):format(i), tags = { "c", i }, body = ("y"):rep(100) .. i }
  end
end

local function timed(what, fn)
  local t, c = now(), os.clock()
  fn()
  io.write(("%s %.3f %.3f\n"):format(what, now() - t, os.clock() - c))
  io.flush()
end

if who == "ljprof" then
  local make = dofile("/ljprof/profilers/snapshot/harness.lua")
  local snap = make({ out = out, record = function() end, now = now, enabled = {} })
  local o = { path = "snapshot", budget = 0, max_objects = 0 }
  timed("walk", function() assert(snap.take(o, "before")) end)
  more()
  timed("walk", function() assert(snap.take(o, "after")) end)
else
  local mri = require("MemoryReferenceInfo")
  mri.m_cConfig.m_bAllMemoryRefFileAddTime = false
  mri.m_cConfig.m_bComparedMemoryRefFileAddTime = false
  local dir = out .. "/"
  timed("walk", function()
    collectgarbage("collect")
    mri.m_cMethods.DumpMemorySnapshot(dir, "1-Before", -1)
  end)
  more()
  timed("walk", function()
    collectgarbage("collect")
    mri.m_cMethods.DumpMemorySnapshot(dir, "2-After", -1)
  end)
  timed("diff", function()
    mri.m_cMethods.DumpMemorySnapshotComparedFile(dir, "Compared", -1, dir .. "LuaMemRefInfo-All-[1-Before].txt",
                                                  dir .. "LuaMemRefInfo-All-[2-After].txt")
  end)
end
