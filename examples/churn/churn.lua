-- A steady worker that allocates and drops: each tick it builds a batch of
-- request-shaped tables and strings, keeps the last 500 in a ring, and lets
-- the rest go. Its Lua heap saws up and down with every GC cycle, but the
-- floor (what survives a collection) stays flat: no leak. Profile it beside
-- the bot (which keeps every reply) to see the difference.
--
--   luajit churn.lua [TICKS]     -- without a limit it runs until stopped
local has_socket, socket = pcall(require, "socket")
local under_ljprof, ljprof = pcall(require, "ljprof")

local ticks = tonumber(arg[1]) or math.huge
local RING = 500
local ring, next_slot = {}, 1

local function request(i)
  return { id = i, path = "/items/" .. (i % 97), headers = { ["x-request"] = tostring(i) },
           body = ("payload-%d "):format(i):rep(8) }
end

if under_ljprof then ljprof.mark("steady") end
local made, tick = 0, 0
while tick < ticks do
  tick = tick + 1
  for _ = 1, 200 do
    made = made + 1
    ring[next_slot] = request(made) -- replaces the oldest: it becomes garbage
    next_slot = next_slot % RING + 1
  end
  if tick % 50 == 0 then
    print(("churn: %d requests, %.0f KB in use"):format(made, collectgarbage("count")))
  end
  if has_socket then socket.sleep(0.01) end
end
