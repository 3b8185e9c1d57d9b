-- ljprof's example for the `jit` profiler (profile `traces` in profiles.yml):
-- a few hot loops, each showing one thing the JIT does.
--
-- handlers(): the hot loop creates a closure per iteration. FNEW (making a
-- closure) is not compiled by LuaJIT 2.1, so every attempt to trace this loop
-- aborts with "NYI: bytecode FNEW" at the `function` line, again and again
-- until the loop's start is blacklisted. The summary's first abort line.
-- sum(): a numeric loop that compiles to one looping root trace.
-- classify(): a loop whose branch flips now and then: side traces off the
-- root trace's exits.
-- fib(): recursion (up-recursion traces).

local function handlers(n)
  local total = 0
  for i = 1, n do
    local handler = function(x) return x + i end
    total = total + handler(i)
  end
  return total
end

local function sum(n)
  local s = 0
  for i = 1, n do s = s + i % 7 end
  return s
end

local function classify(n)
  local small, big = 0, 0
  for i = 1, n do
    if i % 10 < 7 then small = small + 1 else big = big + i end
  end
  return small, big
end

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local rounds = tonumber(arg and arg[1]) or 200
local total = 0
for round = 1, rounds do
  total = total + handlers(1000) + sum(10000)
  local small, big = classify(10000)
  total = total + small + big
  if round % 50 == 0 then total = total + fib(20) end
end
print(("traces: %d rounds, total %d"):format(rounds, total))
