-- jit's part of the harness (see ljprof/harness/run.lua): what the JIT
-- compiler does, recorded by one of LuaJIT's own modules, as the profile's
-- `mode` says. jit.attach keeps one handler per event, so one mode at a time:
--   summary  jit.v    -> out/<o.path>       one line per trace event (small)
--   dump     jit.dump -> out/<o.path>       with o.flags (plain text: `T`)
--   loom     jit.loom (cloudflare/loom, installed in the image) -> out/loom.html
--            rendered here at stop (loom's own writer is a __gc at lua_close,
--            lost with os.exit or a kill), with jQuery inlined and at most
--            o.loom_max_traces traces, and its traces table written as a
--            jit.v-style log (o.path) so the summary is made the same way.
-- out/<o.status>: "key<TAB>value" lines: the JIT's state at start and stop,
-- the image's bytecode names (upstream prints "NYI: bytecode 51"), loom's figures.
local MAX_RECORDS = 1000 -- recorded bytecodes per trace on loom's page

return function(ctx)
  local jutil = require("jit.util")
  local vmdef = require("jit.vmdef")
  local loom, watch_flushes

  local function status(o, key, value)
    local f = io.open(ctx.out .. "/" .. o.status, "a")
    if not f then return end
    f:write(key, "\t", tostring(value):gsub("[\t\n\r]", " "), "\n")
    f:close()
  end

  local function jit_state()
    return jit.status() and "on" or "off"
  end

  local function read(path)
    local f = path and path ~= "" and io.open(path, "rb")
    if not f then return nil end
    local body = f:read("*a")
    f:close()
    return body
  end

  -- jit.v's and loom's way of naming a place (jit/v.lua, fmtfunc).
  local function fmtfunc(func, pc)
    local fi = jutil.funcinfo(func, pc)
    if fi.loc then return fi.loc end
    if fi.ffid then return vmdef.ffnames[fi.ffid] end
    if fi.addr then return string.format("C:%x", fi.addr) end
    return "(?)"
  end

  -- loom's traces table -> jit.v's lines. loom keeps one entry per trace
  -- number (a reused number's attempts are merged, flushes are not kept), and
  -- the parent of the first side trace started with that number (t.parent,
  -- t.p_exit): so this log is in number order, each number's events in their
  -- order, and a stop names its parent only when its number was started once
  -- (otherwise, and for aborts, the parent is unknown: counted as root).
  local function loom_log(traces, numbers)
    local out = {}
    for _, tn in ipairs(numbers) do
      local t = traces[tn]
      local events = t.evt or {}
      local startloc, starts = "(?)", 0
      for _, evt in ipairs(events) do
        if evt[1] == "start" then starts = starts + 1 end
      end
      for _, evt in ipairs(events) do
        local what, func, pc, msg = evt[1], evt[2], evt[3], evt[4]
        if what == "start" and type(func) == "function" then
          startloc = fmtfunc(func, pc)
        elseif what == "abort" then
          local loc = type(func) == "function" and fmtfunc(func, pc) or startloc
          out[#out + 1] = string.format("[TRACE --- %s -- %s%s]", startloc, tostring(msg),
                                        loc ~= startloc and (" at " .. loc) or "")
        elseif what == "stop" then
          local startex = ""
          if starts == 1 and t.parent then
            startex = "(" .. t.parent .. "/" .. (t.p_exit == -1 and "stitch" or tostring(t.p_exit)) .. ") "
          end
          local info = t.info or {}
          local link, ltype = info.link, info.linktype or "none"
          local line
          if ltype == "interpreter" then
            line = string.format("[TRACE %3s %s%s -- fallback to interpreter]", tn, startex, startloc)
          elseif ltype == "stitch" then
            line = string.format("[TRACE %3s %s%s stitch %s]", tn, startex, startloc, fmtfunc(func, pc))
          elseif link == tn or link == 0 or link == nil then
            line = string.format("[TRACE %3s %s%s %s]", tn, startex, startloc, ltype)
          elseif ltype == "root" then
            line = string.format("[TRACE %3s %s%s -> %d]", tn, startex, startloc, link)
          else
            line = string.format("[TRACE %3s %s%s -> %d %s]", tn, startex, startloc, link, ltype)
          end
          out[#out + 1] = line
        end
      end
    end
    return table.concat(out, "\n") .. (#out > 0 and "\n" or "")
  end

  -- loom fails at stop ("table index is nil", jit/loom.lua's gettrace(nil))
  -- when the run had a flush: jit.flush(), or LuaJIT's own when maxtrace
  -- traces are reached, as trace-heavy programs do. Its trace handler is put
  -- behind one that counts flushes and keeps them from it (found through
  -- loom.on's upvalues; if loom changes, flushes reach it as before).
  local flush_filter, flushes = nil, 0
  local function upvalue(fn, name)
    for i = 1, 255 do
      local n, v = debug.getupvalue(fn, i)
      if n == nil then return nil end
      if n == name then return v end
    end
  end
  watch_flushes = function()
    local attachs = upvalue(loom.on, "do_attachs")
    local collect = attachs and upvalue(attachs, "collect_trace")
    if type(collect) ~= "function" then return end
    flush_filter = function(what, ...)
      if what == "flush" then flushes = flushes + 1 return end
      return collect(what, ...)
    end
    jit.attach(flush_filter, "trace")
  end

  -- loom's page, the way loom's own `start` would write it, but now, with a
  -- cap on the traces it renders (its cost grows with them: meteor.lua made
  -- 243 MB of HTML) and jQuery inlined so the page opens offline.
  local function loom_page(o)
    local template = loom.template(o.loom_template)
    local html, log, total
    local cut_records = 0
    -- loom reads the traces' IR when it stops; compiling its own loops then
    -- could reuse trace numbers (or flush, near maxtrace) under its feet
    -- ("bad argument #1 to 'shr'" in its dump_ir): no new traces meanwhile.
    local was_on = jit.status()
    jit.off()
    if flush_filter then
      jit.attach(flush_filter)
      status(o, "loom_flushes", flushes)
    end
    local ok, err = pcall(loom.off, function(traces, funcs)
      local numbers = {}
      for tn in pairs(traces) do
        if type(tn) == "number" then numbers[#numbers + 1] = tn end
      end
      table.sort(numbers)
      log = loom_log(traces, numbers)
      total = #numbers
      status(o, "loom_traces", total)
      if total > o.loom_max_traces then
        local kept = {}
        for i = 1, o.loom_max_traces do kept[numbers[i]] = traces[numbers[i]] end
        traces = kept
        status(o, "loom_kept", o.loom_max_traces)
      end
      -- loom merges every recording attempt of a reused number into one
      -- list: those lists, not the trace count, make most of a big page.
      for _, t in pairs(traces) do
        if t.rec and #t.rec > MAX_RECORDS then
          cut_records = cut_records + #t.rec - MAX_RECORDS
          for i = #t.rec, MAX_RECORDS + 1, -1 do t.rec[i] = nil end
        end
      end
      status(o, "loom_records_left_out", cut_records)
      html = template(traces, funcs)
    end)
    if was_on then jit.on() end
    if log then
      local f = io.open(ctx.out .. "/" .. o.path, "w")
      if f then f:write(log) f:close() end
    end
    if not ok then
      err = "loom could not render its page: " .. tostring(err)
      status(o, "loom_error", err)
      return nil, err
    end
    if total > o.loom_max_traces or cut_records > 0 then
      local note = string.format('<p style="background:#fff3cd;padding:.5em;border:1px solid #e0c060">'
        .. "ljprof: capped, since loom's page grows with every trace and every recording: the first %d of "
        .. "%d trace numbers (loom_max_traces), at most %d recorded bytecodes each (%d left out). "
        .. "The full trace summary is in jit.html.</p>",
        math.min(total, o.loom_max_traces), total, MAX_RECORDS, cut_records)
      html = html:gsub("<body>", function() return "<body>\n" .. note end, 1)
    end
    local jquery = read(o.jquery)
    local version = jquery and jquery:match("jQuery v([%d%.]+)") or "?"
    local tag_start, tag_end = html:find('<script src="[^"]*jquery[^"]*"></script>')
    if jquery and tag_start then
      html = html:sub(1, tag_start - 1) .. "<script>/* jQuery " .. version
        .. " (Debian's libjs-jquery), inlined by ljprof so the page opens offline */\n"
        .. jquery:gsub("</script", "<\\/script") .. "\n</script>" .. html:sub(tag_end + 1)
      status(o, "loom_jquery", version)
    else
      status(o, "loom_jquery", "cdn")
    end
    local f, ferr = io.open(ctx.out .. "/" .. o.loom_page, "w")
    if not f then return nil, ferr end
    f:write(html)
    f:close()
    status(o, "loom_bytes", #html)
    return true
  end

  return {
    start = function(o)
      local f = io.open(ctx.out .. "/" .. o.status, "w")
      if f then f:close() end
      status(o, "mode", o.mode)
      status(o, "version", jit.version)
      status(o, "jit_start", jit_state())
      status(o, "bcnames", (vmdef.bcnames:gsub("(......)", "%1,"):gsub(" ", "")))
      if o.mode == "summary" then
        require("jit.v").on(ctx.out .. "/" .. o.path)
      elseif o.mode == "dump" then
        status(o, "flags", o.flags)
        require("jit.dump").on(o.flags, ctx.out .. "/" .. o.path)
      else
        local ok, mod = pcall(require, "jit.loom")
        if not ok then return nil, "jit.loom is not in this image: " .. tostring(mod) end
        loom = mod
        loom.on()
        watch_flushes()
      end
      return true
    end,
    stop = function(o)
      status(o, "jit_stop", jit_state())
      local ok, err = true, nil
      if o.mode == "summary" then
        require("jit.v").off()
      elseif o.mode == "dump" then
        require("jit.dump").off()
      elseif loom then
        ok, err = loom_page(o)
        loom = nil
      end
      status(o, "stopped", string.format("%.6f", ctx.now()))
      return ok, err
    end,
  }
end
