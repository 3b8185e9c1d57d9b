"""A fake Telegram Bot API, for profiling bots without a network: `getUpdates`, `sendMessage`, `getMe`.

    python3 -m ljprof.services.fake_telegram --port 8081 --token-env FAKE_TELEGRAM_TOKEN --record sent.jsonl

Updates are deterministic: the n-th update depends only on the seed and n
(text and commands: /start, /help, /echo ..., /stats; private chats and
groups, where commands may carry the bot's name, `/echo@ljprof_demo_bot`).
They become available `--batch` at a time every `--interval` seconds, as
if users were typing; `getUpdates` long-polls (`timeout`) until one is there.
`offset` works as Telegram's does: updates below it are confirmed and never
sent again. The token is the one in the URL path (`/bot<TOKEN>/METHOD`),
checked against the environment variable `--token-env` names, and never
printed. Every sendMessage is appended to `--record` as a JSON line.
On SIGTERM or SIGINT it prints its totals and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlsplit

BOT = {"id": 7000000001, "is_bot": True, "first_name": "ljprof demo", "username": "ljprof_demo_bot"}
DATE0 = 1_700_000_000  # the first update's date (2023-11-14): fixed, so updates are the same every run
GROUPS = [(-1001000000001, "ljprof testers"), (-1001000000002, "night shift"), (-1001000000003, "lua people")]
WORDS = ("hello", "price", "weather", "help", "news", "status", "ping", "thanks", "order", "cancel", "memory",
         "leak", "heap", "trace")
COMMANDS = ("/start", "/help", "/echo", "/stats")
USERS = 40  # distinct users, each with a private chat
MAX_LIMIT = 100  # getUpdates' `limit`, as Telegram caps it
BACKLOG = 128  # the listen queue: a burst of connections from a bot's sendMessage calls is not refused


def make_update(seed: int, n: int) -> dict[str, Any]:
    """The n-th update (n >= 1) of the stream `seed`: a message in a private chat or a group."""
    rnd = random.Random(f"{seed}:{n}")
    user_id = 5000 + rnd.randrange(USERS)
    user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "username": f"user{user_id}"}
    in_group = rnd.random() < 0.3
    if in_group:
        group_id, title = GROUPS[rnd.randrange(len(GROUPS))]
        chat: dict[str, Any] = {"id": group_id, "type": "group", "title": title}
    else:
        chat = {"id": user_id, "type": "private", "first_name": user["first_name"], "username": user["username"]}
    words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 6)))
    kind = rnd.random()
    if kind < 0.5:
        text = words
    else:
        command = rnd.choice(COMMANDS)
        if in_group and rnd.random() < 0.5:
            command += f"@{BOT['username']}"
        text = f"{command} {words}" if command.startswith("/echo") else command
    message = {"message_id": n, "from": user, "chat": chat, "date": DATE0 + n, "text": text}
    if text.startswith("/"):
        length = len(text.split(" ", 1)[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"update_id": n, "message": message}


class Api:
    """The Bot API's state: which updates exist by now, which are confirmed, what was sent."""

    def __init__(self, token: str, seed: int = 42, batch: int = 10, interval: float = 0.5,
                 record: Path | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.token = token
        self.seed = seed
        self.batch = batch
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.record = record.open("a", encoding="utf-8") if record else None
        self.confirmed = 0  # every update_id <= this was confirmed by an offset
        self.chats: dict[int, dict[str, Any]] = {}  # the chats of the updates sent so far
        self.sent = 0
        self.served = 0
        self.next_message_id = 1_000_000
        self.lock = threading.Condition()

    def close(self) -> None:
        if self.record:
            self.record.close()

    def available(self) -> int:
        """How many updates exist by now: a batch at once, then one more every `interval`."""
        if self.interval <= 0:
            return 1 << 62
        return self.batch * (1 + int((self.clock() - self.started) / self.interval))

    def get_updates(self, offset: int | None, timeout: float, limit: int) -> list[dict[str, Any]]:
        """Telegram's semantics: `offset` confirms every update below it; waits up to `timeout` for one."""
        limit = max(1, min(limit, MAX_LIMIT))
        deadline = self.clock() + max(0.0, timeout)
        with self.lock:
            if offset is not None and offset > 0:
                self.confirmed = max(self.confirmed, offset - 1)
            first = self.confirmed + 1
            if offset is not None and offset < 0:  # the last -offset updates
                first = max(first, self.available() + offset + 1)
            while self.available() < first and self.clock() < deadline:
                self.lock.wait(min(0.05, max(0.0, deadline - self.clock())))
            last = min(self.available(), first + limit - 1)
            updates = [make_update(self.seed, n) for n in range(first, last + 1)]
            for u in updates:
                self.chats[u["message"]["chat"]["id"]] = u["message"]["chat"]
            self.served = max(self.served, last)
            return updates

    def send_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Record a reply; 400 for an unknown chat or an empty text, as Telegram answers."""
        try:
            chat_id = int(params.get("chat_id", ""))
        except (TypeError, ValueError):
            return 400, error(400, "Bad Request: chat_id is empty")
        text = str(params.get("text") or "")
        with self.lock:
            chat = self.chats.get(chat_id)
            if chat is None:
                return 400, error(400, "Bad Request: chat not found")
            if not text.strip():
                return 400, error(400, "Bad Request: message text is empty")
            self.next_message_id += 1
            self.sent += 1
            message = {"message_id": self.next_message_id, "from": BOT, "chat": chat,
                       "date": DATE0 + self.served, "text": text}
            if self.record:
                entry = {"chat_id": chat_id, "text": text, "reply_to_message_id": params.get("reply_to_message_id")}
                self.record.write(json.dumps(entry, sort_keys=True) + "\n")
                self.record.flush()
        return 200, {"ok": True, "result": message}

    def call(self, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One request: /bot<TOKEN>/<method> -> (HTTP status, Telegram's JSON answer)."""
        prefix, _, method = path.lstrip("/").partition("/")
        if not prefix.startswith("bot") or prefix[3:] != self.token:
            return 401, error(401, "Unauthorized")
        if method == "getMe":
            return 200, {"ok": True, "result": BOT}
        if method == "getUpdates":
            try:
                offset = int(params["offset"]) if "offset" in params else None
                timeout = float(params.get("timeout", 0))
                limit = int(params.get("limit", MAX_LIMIT))
            except (TypeError, ValueError):
                return 400, error(400, "Bad Request: offset, timeout and limit are numbers")
            return 200, {"ok": True, "result": self.get_updates(offset, timeout, limit)}
        if method == "sendMessage":
            return self.send_message(params)
        return 404, error(404, "Not Found")


def error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}


def masked(path: str) -> str:
    """A request path without its token: /bot***/getUpdates."""
    prefix, sep, rest = path.lstrip("/").partition("/")
    return "/" + ("bot***" if prefix.startswith("bot") else prefix) + sep + rest


class Handler(BaseHTTPRequestHandler):
    """Parameters in the query string, a form body or a JSON body, as the Bot API takes them."""

    server: Server
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self.answer({})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        params: dict[str, Any] = {}
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                loaded = json.loads(body) if body else {}
            except json.JSONDecodeError:
                self.reply(400, error(400, "Bad Request: the body is not JSON"))
                return
            params = loaded if isinstance(loaded, dict) else {}
        elif body:
            params = dict(parse_qsl(body))
        self.answer(params)

    def answer(self, params: dict[str, Any]) -> None:
        url = urlsplit(self.path)
        status, data = self.server.api.call(url.path, {**dict(parse_qsl(url.query)), **params})
        result = data.get("result")
        count = f"{len(result)} updates" if isinstance(result, list) else "ok" if data.get("ok") else \
            data.get("description")
        # logged before the answer goes out: whoever has the answer finds the request in the log
        self.server.log(f"{self.command} {masked(url.path)} -> {status} {count}")
        self.reply(status, data)

    def reply(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request comes from answer(), without the token


class Server(ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, api: Api, out: TextIO, verbose: bool) -> None:
        self.api = api
        self.out = out
        self.verbose = verbose
        super().__init__(("127.0.0.1", port), Handler)

    def log(self, line: str) -> None:
        if self.verbose:
            self.out.write(line + "\n")
            self.out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m ljprof.services.fake_telegram", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--token-env", default="FAKE_TELEGRAM_TOKEN",
                        help="the environment variable that holds the bot token (default FAKE_TELEGRAM_TOKEN)")
    parser.add_argument("--seed", type=int, default=42, help="the update stream (default 42)")
    parser.add_argument("--batch", type=int, default=10, help="updates that arrive at once (default 10)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between batches (default 0.5)")
    parser.add_argument("--record", type=Path, help="append every sendMessage here, one JSON line each")
    parser.add_argument("--quiet", action="store_true", help="no line per request")
    args = parser.parse_args(argv)
    token = os.environ.get(args.token_env, "")
    if not token:
        parser.error(f"the token is missing: set {args.token_env} (the bot's token; it is checked in every URL)")
    api = Api(token, args.seed, args.batch, args.interval, args.record)
    server = Server(args.port, api, sys.stdout, not args.quiet)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"fake Telegram Bot API on http://127.0.0.1:{args.port} (seed {args.seed}, {args.batch} updates every "
          f"{args.interval:g} s)", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    api.close()
    print(f"stopped: {api.served} updates delivered, {api.sent} messages sent", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
