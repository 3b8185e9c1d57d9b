-- A target that is off CPU almost all the time: it sleeps (os.execute
-- "sleep" is a child process; luajit itself waits) and wakes briefly.
--   luajit sleepy.lua [SECONDS]   -- default 2
local seconds = tonumber(arg and arg[1]) or 2
local until_t = os.time() + seconds
repeat os.execute("sleep 0.2") until os.time() >= until_t
print("slept")
