-- snapshot's part of the harness (see ljprof/harness/run.lua): a walk of the
-- whole Lua heap, after a full GC, at the target's start, at every
-- ljprof.snapshot("label") and at the end. Written to raw/<path>-NN.txt, one
-- file per snapshot, streamed (a file cut by a kill is read up to its last
-- complete line; only a file with the "end" line is complete):
--
--   ljprof-snapshot 2<TAB>label<TAB>t<TAB>gc64 0|1
--   id<TAB>parent<TAB>identity<TAB>bytes<TAB>label<TAB>info   one line per object
--   -<TAB>from<TAB>to<TAB>label<TAB>w                          an edge that is not the first one
--   end<TAB>objects<TAB>edges<TAB>seconds<TAB>complete|partial: why
--
-- The walk is breadth-first from the roots (_G, the registry, the type
-- metatables, the running thread's stack), so each object's `parent` and
-- `label` (the edge it was found through) make its shortest retaining path.
-- Ids count from 1 in the order objects are found; parent 0 is a root.
-- Identity is the type's letter (t table, s string, f function, u userdata,
-- c cdata, T thread, p prototype) and string.format("%p"), as in "t0x7f3a..",
-- one column the diff compares (tostring can be fooled by __tostring; a
-- prototype has no address: "p-"). Objects are read raw (next,
-- debug.getmetatable past __metatable), and the queue is a table, never
-- recursion. Edges of weak tables (by __mode) are written with "w" and never
-- followed. A string key is written as an edge ("{key") only when it finds the
-- key's string first: every other one is implied by its field's "." edge
-- (version 1 wrote them all, half its lines, and type and address apart).
-- Labels start with one character that says what the edge is:
--   .name  a field under a string key       [text  a value under another key
--   {text  the key object itself             #  the metatable     &  the environment
--   ^name  an upvalue                        <  a prototype's constant, or a function's prototype
--   $name in where   a local of a frame      *n in where   a vararg of a frame
--   Rname  a root (_G, registry, string metatable, ...)
-- `bytes` is what Lua can see: the object itself, a table's array and hash
-- parts estimated from its keys, a string's length, a cdata's ffi.sizeof.
-- `info` is a function's "@file:line" (or "C"), a string's first 24 bytes.
return function(ctx)
  local out, record, now = ctx.out, ctx.record, ctx.now
  local type, next, format, find, gsub, sub = type, next, string.format, string.find, string.gsub, string.sub
  local concat, rawlen = table.concat, rawlen
  local getmetatable, getupvalue, upvalueid = debug.getmetatable, debug.getupvalue, debug.upvalueid
  local getlocal, getinfo, getfenv, getregistry = debug.getlocal, debug.getinfo, debug.getfenv, debug.getregistry
  local has_jutil, jutil = pcall(require, "jit.util")
  local has_ffi, ffi = pcall(require, "ffi")
  local gc64 = has_ffi and ffi.abi("gc64") or false
  local W = gc64 and 8 or 4 -- a GC reference
  local SIZE = { table = gc64 and 64 or 32, string = gc64 and 24 or 16, ["function"] = gc64 and 40 or 20,
                 userdata = gc64 and 40 or 24, thread = gc64 and 104 or 72, cdata = gc64 and 16 or 8,
                 proto = gc64 and 104 or 72, upvalue = gc64 and 48 or 24 }
  local LETTER = { table = "t", string = "s", ["function"] = "f", userdata = "u", cdata = "c", thread = "T",
                   proto = "p" }
  local HARNESS = "@/ljprof/" -- frames of ljprof's own Lua code are not walked
  local SELF = debug.getinfo(1, "S").source
  -- With ljprof's jit profiler on, its recorder runs in this VM: jit.v, jit.dump (with jit.bc and
  -- the disassembler) or loom, whose closures hold what they recorded (loom: every trace event).
  local RECORDER = ctx.enabled.jit and { v = true, dump = true, bc = true, loom = true, dis_x64 = true,
                                         dis_x86 = true } or {}
  local function harness(source) return sub(source, 1, #HARNESS) == HARNESS or source == SELF end
  local mine = {} -- source -> whether it is ljprof's: asked per closure, and a heap has few sources
  local function ljprofs(source)
    local known = mine[source]
    if known == nil then
      known = harness(source)
      if not known and next(RECORDER) ~= nil then
        local module = string.match(source, "^@.*/jit/([%w_]+)%.lua$")
        known = module ~= nil and RECORDER[module] == true
      end
      mine[source] = known
    end
    return known
  end
  local taken, used = 0, {}

  local function escape(s)
    if #s > 80 then s = sub(s, 1, 77) .. "..." end
    if find(s, "[%c\\]") then s = gsub(s, "[%c\\]", function(c) return format("\\%03d", c:byte()) end) end
    return s
  end

  local function where(info)
    local what = info.what == "main" and "main chunk" or (info.name or "?")
    if info.what == "C" then return what .. " (C)" end
    return format("%s (%s:%d)", what, info.source, info.linedefined)
  end

  -- One walk, written to `path`; returns the number of objects.
  local function walk(path, label, max_objects, max_seconds)
    local f = assert(io.open(path, "w"))
    local buf, nb = {}, 0
    local function put(line)
      nb = nb + 1
      buf[nb] = line
      if nb >= 4096 then
        f:write(concat(buf, "\n", 1, nb), "\n")
        nb = 0
      end
    end
    put(format("ljprof-snapshot 2\t%s\t%.6f\tgc64 %d", escape(label), now(), gc64 and 1 or 0))
    local ids, queue, parents, labels, infos = {}, {}, {}, {}, {}
    local nobj, head, nedges = 0, 1, 0
    local upvals = {}
    local field = {} -- string key -> its edge label: keys repeat (a million fields, a few thousand names)
    -- The jit recorder's module tables (package.loaded["jit.loom"], ...) and the API table a target
    -- gets from require("ljprof") are ljprof's: not walked, and not counted (made after the first
    -- snapshot, they would be new objects of the target's).
    local skip, skipping = {}, false
    local function own(mod)
      if type(mod) == "table" then skip[mod], skipping = true, true end
    end
    for m in pairs(RECORDER) do own(package.loaded["jit." .. m]) end
    own(package.loaded.ljprof)
    -- An edge from `from` (an id, 0 for a root) to `v`: a new object is queued.
    local function edge(from, v, lab, weak)
      local tv = type(v)
      if tv == "number" or tv == "boolean" or tv == "nil" or tv == "lightuserdata" then return end
      if skipping and skip[v] then return end
      local id = ids[v]
      if id then
        nedges = nedges + 1
        put(format("-\t%d\t%d\t%s%s", from, id, lab, weak and "\tw" or ""))
        return
      end
      if weak then
        nedges = nedges + 1
        put(format("-\t%d\t?\t%s\tw", from, lab))
        return
      end
      nobj = nobj + 1
      ids[v], queue[nobj], parents[nobj], labels[nobj] = nobj, v, from, lab
    end
    local function keytext(k)
      local tk = type(k)
      if tk == "number" or tk == "boolean" then return tostring(k) end
      return tk
    end
    -- A Lua function's (or a prototype's) constants: strings, template tables, inner prototypes.
    local function constants(id, fn)
      local k = -1
      while true do
        local c = jutil.funck(fn, k)
        if c == nil then break end
        edge(id, c, "<")
        k = k - 1
      end
    end
    local function frames(id, co, skip)
      local level = skip
      while true do
        local info = co and getinfo(co, level, "Snf") or (not co and getinfo(level, "Snf"))
        if not info then break end
        if not harness(info.source) then
          local at = where(info)
          edge(id, info.func, "$(function) in " .. at)
          local i = 1
          while true do
            local name, v
            if co then name, v = getlocal(co, level, i) else name, v = getlocal(level, i) end
            if not name then break end
            edge(id, v, "$" .. escape(name) .. " in " .. at)
            i = i + 1
          end
          i = -1
          while true do
            local name, v
            if co then name, v = getlocal(co, level, i) else name, v = getlocal(level, i) end
            if not name then break end
            edge(id, v, "*" .. -i .. " in " .. at)
            i = i - 1
          end
        end
        level = level + 1
      end
    end

    local started = os.clock()
    edge(0, _G, "R_G")
    edge(0, getregistry(), "Rregistry")
    for _, probe in ipairs({ "", 0, false, print, coroutine.create(print) }) do
      local mt = getmetatable(probe)
      if mt then edge(0, mt, "R" .. type(probe) .. " metatable") end
    end
    if has_ffi then
      local mt = getmetatable(ffi.new("int"))
      if mt then edge(0, mt, "Rcdata metatable") end
    end
    frames(0, nil, 2)
    local partial
    while head <= nobj do
      if max_objects > 0 and head > max_objects then
        partial = format("object budget of %d reached", max_objects)
        break
      end
      if head % 1024 == 0 and max_seconds > 0 and os.clock() - started > max_seconds then
        partial = format("time budget of %g s reached", max_seconds)
        break
      end
      local v, id = queue[head], head
      queue[head] = nil
      head = head + 1
      local tv, size, info = type(v), 0, ""
      if tv == "table" then
        local mt = getmetatable(v)
        local mode = mt and rawget(mt, "__mode")
        local wk = type(mode) == "string" and find(mode, "k", 1, true) ~= nil
        local wv = type(mode) == "string" and find(mode, "v", 1, true) ~= nil
        local n = rawlen and rawlen(v) or #v
        local nhash = 0
        for k, x in next, v do
          local tk = type(k)
          if tk == "string" then
            local lab = field[k]
            if not lab then lab = "." .. escape(k) field[k] = lab end
            edge(id, x, lab, wv)
            -- else the field's "." line says it (and a skipped module's name is ljprof's too)
            if not ids[k] and not (skipping and skip[x]) then edge(id, k, "{key", wk) end
            nhash = nhash + 1
          elseif tk == "number" then
            if k < 1 or k > n or k % 1 ~= 0 then nhash = nhash + 1 end
            edge(id, x, "[" .. tostring(k), wv)
          else
            nhash = nhash + 1
            edge(id, x, "[" .. keytext(k), wv)
            edge(id, k, "{" .. keytext(k), wk)
          end
        end
        if mt then edge(id, mt, "#") end
        local hsize = 0
        if nhash > 0 then hsize = 1 while hsize < nhash do hsize = hsize * 2 end end
        size = SIZE.table + (n > 0 and (n + 1) * 8 or 0) + hsize * 24
      elseif tv == "string" then
        size = SIZE.string + #v + 1
        info = escape(sub(v, 1, 24))
      elseif tv == "function" then
        local fi = getinfo(v, "S")
        info = fi.what == "C" and "C" or format("%s:%d", fi.source, fi.linedefined)
        size = SIZE["function"]
        -- A closure of ljprof's own Lua (run.lua, any profiler's harness.lua, the jit recorder it
        -- runs) holds ljprof's state, not the target's: it is a node, not walked into, as ljprof's
        -- frames are not (frames()).
        if fi.what == "C" or not ljprofs(fi.source) then
          local i = 1
          while true do
            local name, x = getupvalue(v, i)
            if not name then break end
            size = size + (fi.what == "C" and 8 or W)
            if fi.what ~= "C" and upvalueid then
              local uid = upvalueid(v, i)
              if not upvals[uid] then upvals[uid] = true size = size + SIZE.upvalue end
            end
            edge(id, x, "^" .. (name ~= "" and escape(name) or tostring(i)))
            i = i + 1
          end
          edge(id, getfenv(v), "&")
          if has_jutil and fi.what ~= "C" then constants(id, v) end
        end
      elseif tv == "proto" then
        constants(id, v)
      elseif tv == "thread" then
        size = SIZE.thread
        edge(id, getfenv(v), "&")
        frames(id, v, 0)
      elseif tv == "userdata" then
        size = SIZE.userdata
        local mt = getmetatable(v)
        if mt then edge(id, mt, "#") end
        edge(id, getfenv(v), "&")
      elseif tv == "cdata" then
        local ok, n = pcall(ffi.sizeof, v)
        size = SIZE.cdata + (ok and n or 0)
      end
      put(format("%d\t%d\t%s%s\t%d\t%s\t%s", id, parents[id], LETTER[tv] or "?", tv == "proto" and "-" or format("%p", v),
                 size, labels[id], info))
      parents[id], labels[id] = nil, nil
    end
    put(format("end\t%d\t%d\t%.3f\t%s", head - 1, nedges, os.clock() - started,
               partial and ("partial: " .. partial) or "complete"))
    f:write(concat(buf, "\n", 1, nb), "\n")
    f:close()
    return head - 1, partial
  end

  local function take(o, label)
    label = tostring(label or "snapshot")
    if used[label] then
      local n = 2
      while used[label .. "#" .. n] do n = n + 1 end
      label = label .. "#" .. n
    end
    used[label] = true
    taken = taken + 1
    collectgarbage("collect")
    collectgarbage("collect")
    local path = format("%s/%s-%02d.txt", out, o.path, taken)
    local ok, n, partial = pcall(walk, path, label, o.max_objects or 0, o.budget or 0)
    if not ok then
      record("error", "snapshot " .. label .. ": " .. tostring(n))
      return nil, n
    end
    record("snapshot", label .. " " .. n .. (partial and (" partial: " .. partial) or ""))
    return label
  end

  return {
    take = take,
    -- started after the other profilers (the first walk sees what they loaded) and stopped after
    -- them (the last walk is not in their data)
    last = true,
    start = function(o) return take(o, "start") and true end,
    stop = function(o) return take(o, "end") and true end,
  }
end
