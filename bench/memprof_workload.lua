-- The memprof benchmark's workload: run under Tarantool's LuaJIT as
--   luajit memprof_workload.lua OUT.bin TARGET_BYTES [C_EVERY]
-- It records memprof until OUT.bin is at least TARGET_BYTES long. Several
-- allocation sites: records kept for good (a leak), records in a ring that
-- overwrites them, tables that grow (reallocs), temporary strings the GC frees.
-- With C_EVERY > 0, every C_EVERY iterations lua-cjson's encode allocates too:
-- C-function events, each preceded by the fork's re-dump of every C symbol.
-- The JIT stays on, so hot sites become traces.
local out, target, c_every = arg[1], tonumber(arg[2]), tonumber(arg[3] or "0")
local cjson = nil
if c_every > 0 then
  cjson = require("cjson")
end

local function size_of(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

local function make_record(i)
  return {id = i, name = "user" .. i}
end

local function grow(t, n)
  for j = 1, n do
    t[j] = j
  end
  return t
end

local function churn(i)
  local s = string.rep("x", 32 + i % 64)
  return #s
end

local kept, ring = {}, {}
assert(misc.memprof.start(out))
local i = 0
while true do
  i = i + 1
  ring[i % 1000] = make_record(i)
  if i % 10 == 0 then
    kept[#kept + 1] = make_record(i)
  end
  grow({}, 1 + i % 40)
  churn(i)
  if cjson and i % c_every == 0 then
    ring[0] = cjson.encode({i, "x"})
  end
  if i % 5000 == 0 and size_of(out) >= target then
    break
  end
end
assert(misc.memprof.stop())
print(string.format("%d iterations, %d records kept", i, #kept))
