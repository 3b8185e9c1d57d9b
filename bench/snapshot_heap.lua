-- A heap of about 50 MB for bench/snapshot_bench.py: tables of records with strings, as a cache would hold.
local n = tonumber(arg and arg[1]) or 200000
local cache = {}
for i = 1, n do
  cache["key" .. i] = { id = i, name = ("user %d"):format(i), tags = { "a", "b", i }, body = ("x"):rep(100) .. i }
end
_G.cache = cache
collectgarbage("collect")
io.stderr:write(("heap %.1f MB\n"):format(collectgarbage("count") / 1024))
