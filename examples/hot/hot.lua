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
local cpu_slow, cpu_fast = 0, 0  -- CPU seconds each has had so far
while os.clock() < deadline do
  local t0 = os.clock()
  sink = sink + slow(n_slow)
  local t1 = os.clock()
  sink = sink + fast(n_fast)
  local t2 = os.clock()
  cpu_slow, cpu_fast = cpu_slow + (t1 - t0), cpu_fast + (t2 - t1)
  -- The calibration is a 20 ms measurement: keep the split at 3:1 by
  -- giving `fast` the work that brings its total to a third of `slow`'s.
  if cpu_fast > 0 then n_fast = math.max(1, math.floor(n_fast * (cpu_slow / 3) / cpu_fast)) end
end
print(string.format("done: slow %d, fast %d iterations a round; CPU %.2f s : %.2f s (%d)",
                    n_slow, n_fast, cpu_slow, cpu_fast, sink % 10))
