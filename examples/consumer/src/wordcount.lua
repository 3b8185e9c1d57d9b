-- Counts words sentence by sentence until stopped; normalised words go
-- through a bounded cache, so the heap stays flat.
local text = require("text")
local LRU = require("lru")

local cache = LRU.new(64)
local counts, n = {}, 0
local function normalise(word) return (word:gsub("^%l", string.upper)) end

while true do
  n = n + 1
  for word in text.sentence(n):gmatch("%a+") do
    local w = cache:get(word, normalise)
    counts[w] = (counts[w] or 0) + 1
  end
  if n % 200000 == 0 then print(("wordcount: %d sentences, %d words"):format(n, #text.sentence(n))) end
end
