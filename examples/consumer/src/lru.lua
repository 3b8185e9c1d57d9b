-- A bounded least-recently-used cache: at most `size` entries live.
local LRU = {}
LRU.__index = LRU

function LRU.new(size)
  return setmetatable({ size = size, count = 0, items = {}, order = {}, clock = 0 }, LRU)
end

function LRU:get(key, make)
  self.clock = self.clock + 1
  local value = self.items[key]
  if value == nil then
    if self.count >= self.size then self:evict() end
    value = make(key)
    self.items[key] = value
    self.count = self.count + 1
  end
  self.order[key] = self.clock
  return value
end

function LRU:evict()
  local oldest, when = nil, math.huge
  for key, t in pairs(self.order) do
    if t < when then oldest, when = key, t end
  end
  self.items[oldest], self.order[oldest] = nil, nil
  self.count = self.count - 1
end

return LRU
