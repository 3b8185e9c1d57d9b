-- Deterministic text: sentences of words drawn from a small vocabulary.
local M = {}

local VOCABULARY = {
  "lua", "table", "string", "garbage", "collector", "trace", "jit", "loop",
  "closure", "upvalue", "metatable", "coroutine", "yield", "buffer", "cache",
}

-- The n-th sentence (the same for the same n): 8 to 15 words.
function M.sentence(n)
  local words, seed = {}, n
  for i = 1, 8 + n % 8 do
    seed = (seed * 1103515245 + 12345) % 2147483648
    words[i] = VOCABULARY[seed % #VOCABULARY + 1]
  end
  return table.concat(words, " ")
end

return M
