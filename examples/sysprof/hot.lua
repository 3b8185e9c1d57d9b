-- Two hot functions in a 3:1 ratio of CPU time: `mul` interpreted (jit.off),
-- `add` compiled. The split is kept at 3:1 as it runs (os.clock per call).
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

-- f(n), and the CPU seconds it took.
-- (the loop below corrects add's work each round to a third of mul's time)
local function spin(f, n)
  local t = os.clock()
  local x = f(n)
  return os.clock() - t, x
end

local seconds = tonumber(arg and arg[1]) or 2
local n_mul, n_add = 20000, 200000
local cpu_mul, cpu_add = 0, 0
local finish = os.clock() + seconds
while os.clock() < finish do
  cpu_mul = cpu_mul + spin(mul, n_mul)
  cpu_add = cpu_add + spin(add, n_add)
  if cpu_add > 0 then n_add = math.max(1, math.floor(n_add * (cpu_mul / 3) / cpu_add)) end
end
print(string.format("CPU: mul %.2f s, add %.2f s", cpu_mul, cpu_add))
