-- Builds an inverted index of N sentences (argument 1) and keeps every
-- posting: what it holds grows with N. Ends by returning.
local text = require("text")

local sentences = tonumber(arg[1]) or 1000
local index = {}
for n = 1, sentences do
  for position, word in ipairs({ text.sentence(n):match(("(%a+) ?"):rep(8)) }) do
    local postings = index[word] or {}
    postings[#postings + 1] = { sentence = n, position = position }
    index[word] = postings
  end
end
local words, postings = 0, 0
for _, list in pairs(index) do words, postings = words + 1, postings + #list end
print(("index: %d sentences, %d words, %d postings"):format(sentences, words, postings))
