-- A Telegram bot that long-polls the Bot API: getUpdates, then a sendMessage
-- per message, over HTTP with luasocket and lua-cjson. Under ljprof it talks
-- to the fake Bot API the profile starts (profiles.yml, services:); it would
-- talk to api.telegram.org the same way.
--
-- It has ONE deliberate leak: every message it answers is kept in
-- `delivered`, "for the audit log", and never trimmed (the line marked LEAK,
-- in remember()). A memory profiler should point at it.
--
--   BOT_API_URL=http://127.0.0.1:8081 BOT_TOKEN=... luajit bot.lua
--
-- It runs until SIGINT (Ctrl-C, or ljprof at the profile's duration), then
-- says how much it did and ends as interrupted.
local http = require("socket.http")
local ltn12 = require("ltn12")
local cjson = require("cjson")
-- Under ljprof, the profile's `memprof: {start: manual}` lets the bot switch
-- memprof on once its modules are loaded. Outside ljprof this does nothing.
local under_ljprof, ljprof = pcall(require, "ljprof")

local api = assert(os.getenv("BOT_API_URL"), "set BOT_API_URL to the Bot API's address")
-- A bot token is a secret: it goes into URLs, never into output.
local token = assert(os.getenv("BOT_TOKEN"), "set BOT_TOKEN to the bot's token")
local bot_name = os.getenv("BOT_NAME") or "ljprof-bot"
local POLL_TIMEOUT = 2 -- seconds getUpdates may wait for an update (long polling)
http.TIMEOUT = POLL_TIMEOUT + 5

-- One Bot API call: POST a JSON body, decode the JSON answer.
local function call(method, params)
  local body = cjson.encode(params)
  local chunks = {}
  local ok, status = http.request({
    url = ("%s/bot%s/%s"):format(api, token, method),
    method = "POST",
    headers = { ["content-type"] = "application/json", ["content-length"] = #body },
    source = ltn12.source.string(body),
    sink = ltn12.sink.table(chunks),
  })
  if not ok then error(("%s: %s"):format(method, status), 0) end
  local answer = cjson.decode(table.concat(chunks))
  if not answer.ok then error(("%s: %s %s"):format(method, status, answer.description), 0) end
  return answer.result
end

-- Per-chat sessions: bounded (a counter and the last few messages only).
local sessions, chats = {}, 0
local function session_for(chat)
  local s = sessions[chat.id]
  if not s then
    s = { messages = 0, recent = {} }
    sessions[chat.id] = s
    chats = chats + 1
  end
  s.messages = s.messages + 1
  return s
end

local handled, replied = 0, 0
local COMMANDS = {
  start = function() return ("Hello! I am %s. Try /help."):format(bot_name) end,
  help = function() return "/start, /help, /echo TEXT, /stats; anything else I repeat in capitals." end,
  echo = function(_, rest) return rest ~= "" and rest or "(nothing to echo)" end,
  stats = function(s) return ("%d messages in this chat; %d updates, %d chats in all"):format(
    s.messages, handled, chats) end,
}

-- "/echo@ljprof_demo_bot hi" -> "echo", "hi"; plain text -> nil
local function command_of(text)
  local name, rest = text:match("^/(%w+)@?%S*%s*(.*)$")
  return name, rest
end

local function reply_to(message)
  local text = message.text or ""
  local s = session_for(message.chat)
  s.recent[(s.messages - 1) % 5 + 1] = text
  local name, rest = command_of(text)
  if name then
    local command = COMMANDS[name]
    return command and command(s, rest) or ("Unknown command /%s. Try /help."):format(name)
  end
  if message.chat.type ~= "private" then return nil end -- in groups, only commands get an answer
  return ("%s heard: %s"):format(bot_name, text:upper())
end

-- Every message answered, kept "for the audit log" and never trimmed.
-- One line on purpose: once `remember` is hot, the JIT compiles it, and memprof
-- gives what a trace allocates to the line the trace starts at (the function's
-- first line); on one line, interpreted or compiled, the leak has one address.
local delivered = {}
local function remember(message, reply) delivered[#delivered + 1] = { chat = message.chat.id, text = message.text, reply = reply, copy = reply:rep(30) } end -- LEAK

local function handle(update)
  handled = handled + 1
  local message = update.message
  if not message then return end
  local reply = reply_to(message)
  if reply then
    call("sendMessage", { chat_id = message.chat.id, text = reply, reply_to_message_id = message.message_id })
    replied = replied + 1
    remember(message, reply)
  end
end

local function serve()
  local offset, next_report = 0, 50
  while true do
    for _, update in ipairs(call("getUpdates", { offset = offset, timeout = POLL_TIMEOUT })) do
      offset = update.update_id + 1
      handle(update)
    end
    if handled >= next_report then
      next_report = next_report + 50
      print(("%s: %d updates handled, %d replies, %d chats, %.0f KB in use"):format(
        bot_name, handled, replied, chats, collectgarbage("count")))
    end
  end
end

local me = call("getMe", {})
print(("%s: started as @%s, polling %s"):format(bot_name, me.username, api))
if under_ljprof then
  ljprof.start("memprof")
  ljprof.mark("serving")
end
-- SIGINT makes luajit raise "interrupted!" wherever the bot is: say how far
-- it got, then let the interrupt end the script as luajit ends any (exit
-- status 1). Under ljprof the profilers stop there, while `delivered` is
-- still reachable: the leak shows as live at the end.
local ok, err = xpcall(serve, function(e)
  return tostring(e):match("interrupted!$") and e or debug.traceback(e, 2)
end)
if not ok and tostring(err):match("interrupted!$") then
  print(("%s: stopped by SIGINT after %d updates, %d replies, %d chats"):format(bot_name, handled, replied, chats))
end
error(err, 0)
