-- Records a C-symbol-heavy memprof file: N lua-cjson decode calls under memprof.
--
--   luajit make_cjson_memprof.lua OUT.bin [N]        (N: 1000 by default)
--
-- Run it in an ljprof image of Tarantool's fork with lua-cjson, as fetched
-- (`luajit.fixes: none`; see bench/README.md). There, every allocation that
-- cjson makes (an event from a C function) comes after a full copy of every C
-- symbol of every loaded library, because of the fork's bug that ljprof's fix
-- memprof-symtab-redump removes: about 1.5 MB per decode call. With that
-- fix applied the same calls give a small file, and this script says so.
local out, n = arg[1], tonumber(arg[2] or 1000)
if not out or not n or n < 1 then
  io.stderr:write("usage: luajit make_cjson_memprof.lua OUT.bin [N]\n")
  os.exit(2)
end
if not (rawget(_G, "misc") and misc.memprof) then
  io.stderr:write("make_cjson_memprof.lua: this LuaJIT has no misc.memprof (it needs Tarantool's fork)\n")
  os.exit(1)
end
local cjson = require("cjson")

-- One document with nested tables, arrays, strings and numbers: each decode
-- allocates ~10 times from inside cjson (a C function).
local doc = '{"id":1,"name":"ljprof","tags":["a","b","c"],"nested":{"x":1.5,"y":[1,2,3]}}'
local keep = {}
cjson.decode(doc) -- warm up: cjson's first call allocates its own state

assert(misc.memprof.start(out))
for i = 1, n do
  keep[i % 10 + 1] = cjson.decode(doc) -- ten live results, the rest freed by the GC
end
assert(misc.memprof.stop())

local f = assert(io.open(out, "rb"))
local size = f:seek("end")
f:close()
print(string.format("%s: %d cjson.decode calls, %d bytes (%.0f bytes per call)", out, n, size, size / n))
if size / n < 10000 then
  print("note: the C symbol table was not written again per event: this LuaJIT has ljprof's fix "
    .. "memprof-symtab-redump; for a C-symbol-heavy file use an image built with `luajit.fixes: none`")
end
