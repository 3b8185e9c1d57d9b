-- Prints, as one JSON object, what this LuaJIT image is and can do.
-- Run once at image build time (docker/scripts/image-info.sh); the result is
-- /usr/share/ljprof/image.json. It must run on Tarantool's fork and on
-- upstream LuaJIT alike, so every fork-only feature is probed, not assumed.

local function env(name)
  return os.getenv(name) or ""
end

-- A minimal JSON encoder: strings, numbers, booleans, arrays and objects with
-- string keys (sorted, so the file is the same for the same image).
local encode
local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r" }
    return named[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end
function encode(v)
  local t = type(v)
  if t == "string" then return encode_string(v) end
  if t == "number" or t == "boolean" then return tostring(v) end
  if t == "nil" then return "null" end
  if #v > 0 or next(v) == nil and getmetatable(v) == "array" then
    local parts = {}
    for i = 1, #v do parts[i] = encode(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = encode_string(k) .. ":" .. encode(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end
local function array(t) return setmetatable(t, { __metatable = "array" }) end

-- Does misc.<name>.start work here? The fork compiles both profilers out on
-- some targets (ARM), where start() returns nil and an error message.
local function probe_profiler(name, opts)
  local misc = rawget(_G, "misc")
  local p = misc and misc[name]
  if type(p) ~= "table" or type(p.start) ~= "function" then
    return { present = false, works = false, error = "misc." .. name .. " is absent" }
  end
  local path = os.tmpname()
  opts.path = path
  local ok, res, err = pcall(p.start, name == "memprof" and path or opts)
  local result
  if ok and res then
    local stopped, serr = p.stop()
    result = { present = true, works = stopped and true or false, error = serr }
  else
    result = { present = true, works = false, error = tostring(ok and err or res) }
  end
  os.remove(path)
  return result
end

local metrics_keys = array({})
local misc = rawget(_G, "misc")
if misc and type(misc.getmetrics) == "function" then
  for k in pairs(misc.getmetrics()) do metrics_keys[#metrics_keys + 1] = k end
  table.sort(metrics_keys)
end

local rocks = array({})
local f = io.open(env("LJPROF_ROCKS_FILE"))
if f then
  for line in f:lines() do
    local name, version = line:match("^(%S+)%s+(%S+)")
    if name then rocks[#rocks + 1] = { name = name, version = version } end
  end
  f:close()
end

-- ljprof's fixes to the fork, as docker/scripts/apply-fixes.sh recorded them:
-- "name<TAB>true|false<TAB>why" per fix the recipe asked for.
local fixes = array({})
f = io.open(env("LJPROF_FIXES_FILE"))
if f then
  for line in f:lines() do
    local name, applied, why = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
    if name then fixes[#fixes + 1] = { name = name, applied = applied == "true", why = why } end
  end
  f:close()
end

-- Cloudflare's loom (docker/scripts/install-loom.sh), and the jQuery its page
-- needs (Debian's libjs-jquery), which the jit profiler inlines.
local function read_first_line(path)
  local file = io.open(path)
  if not file then return nil end
  local line = file:read("*l")
  file:close()
  return line
end
local function probe_loom()
  local commit = read_first_line("/usr/share/ljprof/loom/COMMIT")
  if not commit then return { installed = false } end
  local jquery = "/usr/share/javascript/jquery/jquery.min.js"
  local header = read_first_line(jquery)
  local loads, err = pcall(require, "jit.loom")
  return {
    installed = loads,
    error = not loads and tostring(err) or nil,
    commit = commit,
    template = "/usr/share/ljprof/loom/loom.html",
    jquery = header and jquery or "",
    jquery_version = header and header:match("jQuery v([%w%.%-]+)") or "",
  }
end

local jit_on = jit.status()
print(encode({
  recipe = env("LJPROF_RECIPE"),
  image_hash = env("LJPROF_IMAGE_HASH"),
  luajit = {
    version = jit.version,
    version_num = jit.version_num,
    arch = jit.arch,
    os = jit.os,
    jit_enabled = jit_on,
    build_system = env("LJPROF_LUAJIT_BUILD"),
    commit = env("LJPROF_LUAJIT_COMMIT"),
    source = env("LUAJIT_FROM") == "git" and env("LUAJIT_GIT") or "local source tree",
    ref = env("LUAJIT_FROM") == "git" and env("LUAJIT_REF") or "",
  },
  features = {
    memprof = probe_profiler("memprof", {}),
    sysprof = probe_profiler("sysprof", { mode = "D" }),
    getmetrics = { present = #metrics_keys > 0, keys = metrics_keys },
    sampler = { present = (pcall(require, "ljprof_sampler")) },
    loom = probe_loom(),
  },
  fixes = fixes,
  luarocks = {
    from = env("LUAROCKS_FROM"),
    version = env("LJPROF_LUAROCKS_VERSION"),
    rocks = rocks,
  },
}))
