-- Raises and catches errors thousands of times a second: sysprof's known way
-- to kill a target (tarantool/tarantool#11669, #11664, #11414, #11233). The
-- unwinder runs on every error; a SIGPROF that lands inside it is where
-- sysprof hangs or crashes.
local function fail(i) error({code = i}) end
local caught, started = 0, os.clock()
while os.clock() - started < (tonumber(arg and arg[1]) or 3) do
  for i = 1, 1000 do
    if not pcall(fail, i) then caught = caught + 1 end
  end
end
print("caught " .. caught .. " errors")
