-- Two hot functions in a 3:1 ratio of CPU time: `mul` interpreted (jit.off),
-- `add` compiled. Each round spins mul for 3 ms and add for 1 ms of CPU time.
local function mul(n)
  local s = 1
  for i = 1, n do s = (s * i) % 1000003 end
  return s
end
jit.off(mul)

local function add(n)
  local s = 0
  for i = 1, n do s = s + i end
  return s
end

local function spin(f, seconds)
  local stop, x = os.clock() + seconds, 0
  while os.clock() < stop do x = x + f(1000) end
  return x
end

local seconds = tonumber(arg and arg[1]) or 2
local finish = os.clock() + seconds
while os.clock() < finish do
  spin(mul, 0.003)
  spin(add, 0.001)
end
