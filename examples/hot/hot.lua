-- Two hot functions in a 3:1 ratio of CPU time: `slow` runs interpreted
-- (jit.off), `fast` compiled; a CPU profiler should give `slow` about 75% of
-- their sum. The work is calibrated at start: each round gives `slow` three
-- times the time `fast` gets, measured with os.clock.
--
--   luajit hot.lua [SECONDS]   -- default 3
local seconds = tonumber(arg and arg[1]) or 3

local function slow(n)
  local x = 0
  for i = 1, n do x = (x + i * 7) % 1000003 end
  return x
end
jit.off(slow)

local function fast(n)
  local x = 0
  for i = 1, n do x = (x + i * 7) % 1000003 end
  return x
end

-- How many iterations of each fill `ms` milliseconds of CPU.
local function calibrate(fn, ms)
  local n = 1000
  while true do
    local t = os.clock()
    fn(n)
    local took = (os.clock() - t) * 1000
    if took >= 20 then return math.max(1, math.floor(n * ms / took)) end
    n = n * 2
  end
end

local n_slow, n_fast = calibrate(slow, 15), calibrate(fast, 5)
local sink, deadline = 0, os.clock() + seconds
while os.clock() < deadline do
  sink = sink + slow(n_slow) + fast(n_fast)
end
print(string.format("done: slow %d, fast %d iterations a round (%d)", n_slow, n_fast, sink % 10))
