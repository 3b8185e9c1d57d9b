-- A chat bot, shaped like the ones people profile with ljprof: a loop that
-- takes a stream of incoming updates (as a bot API would send them),
-- keeps per-chat sessions, and formats replies with lua-cjson. No network:
-- the updates are made up here, at a steady rate.
--
-- It has one deliberate leak: every reply is kept in `delivered`, forever
-- (the line marked LEAK, in remember()). A memory profiler should point at it.
--
--   luajit bot.lua [MAX_UPDATES]     -- without a limit it runs until stopped
local cjson = require("cjson")
local has_socket, socket = pcall(require, "socket")
-- Under ljprof, the profile's `memprof: {start: manual}` lets the bot switch
-- memprof on once its modules are loaded: loading C modules costs a memprof
-- file some 100 KB per allocation (the fork writes its C symbol table again
-- each time). Outside ljprof, require("ljprof") fails and this does nothing.
local under_ljprof, ljprof = pcall(require, "ljprof")

local max_updates = tonumber(arg[1]) or math.huge
local bot_name = os.getenv("BOT_NAME") or "ljprof-bot"
-- A bot token is a secret: use it, never print it.
local token = os.getenv("BOT_TOKEN")

local WORDS = { "hello", "price", "weather", "help", "news", "status", "ping", "thanks", "order", "cancel" }

-- A deterministic stream of updates, as a bot framework hands them over
-- (already decoded from the API's JSON).
local seed = 42
local function random(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return math.floor(seed / 65536) % n + 1
end

local function next_update(id)
  local words = {}
  for i = 1, random(6) do words[i] = WORDS[random(#WORDS)] end
  return {
    update_id = id,
    message = {
      chat = { id = 1000 + random(40) },
      from = { id = 5000 + random(300), username = "user" .. random(300) },
      text = table.concat(words, " "),
    },
  }
end

-- Per-chat sessions: bounded (the last few messages only).
local sessions, chats = {}, 0
local function session_for(chat_id)
  local s = sessions[chat_id]
  if not s then
    s = { messages = 0, recent = {} }
    sessions[chat_id] = s
    chats = chats + 1
  end
  return s
end

local function reply_text(s, text)
  local first = text:match("^(%S+)")
  if first == "ping" then return "pong" end
  if first == "status" then return ("%s: %d messages in this chat"):format(bot_name, s.messages) end
  return ("%s heard: %s"):format(bot_name, text:upper())
end

-- Every reply delivered, kept "for the audit log" and never trimmed.
local delivered = {}
local function remember(replies)
  for i = 1, #replies do delivered[#delivered + 1] = { body = replies[i], copy = replies[i]:rep(30) } end -- LEAK
end

local function handle(update)
  local msg = update.message
  local s = session_for(msg.chat.id)
  s.messages = s.messages + 1
  s.recent[(s.messages - 1) % 5 + 1] = msg.text
  local reply = cjson.encode({ method = "sendMessage", chat_id = msg.chat.id, text = reply_text(s, msg.text) })
  return reply
end

local function pause(seconds)
  if has_socket then socket.sleep(seconds) end
end

print(("%s: started (token %s)"):format(bot_name, token and "set" or "not set"))
if under_ljprof then
  ljprof.start("memprof")
  ljprof.mark("serving")
end
local id = 0
-- Updates arrive in batches of 10 every half second.
while id < max_updates do
  local replies = {}
  for _ = 1, 10 do
    id = id + 1
    replies[#replies + 1] = handle(next_update(id))
    if id >= max_updates then break end
  end
  remember(replies)
  if id % 50 == 0 then
    print(("%s: %d updates handled, %d chats, %.0f KB in use"):format(bot_name, id, chats, collectgarbage("count")))
  end
  pause(0.5)
end
print(("%s: done, %d updates"):format(bot_name, id))
