"""The fake Telegram Bot API (ljprof.services.fake_telegram): its updates, offsets, token and replies."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ljprof.services.fake_telegram import BACKLOG, Api, Server, main, make_update, masked

TOKEN = "123456:test-token"


def test_updates_depend_only_on_the_seed_and_their_number() -> None:
    assert make_update(42, 1) == make_update(42, 1)
    assert make_update(42, 1) != make_update(43, 1)
    first = make_update(42, 1)
    assert first["update_id"] == 1
    assert first["message"]["text"] == "/echo cancel cancel order cancel cancel memory"
    assert first["message"]["chat"] == {"id": 5009, "type": "private", "first_name": "User5009",
                                        "username": "user5009"}
    assert first["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 5}]
    assert first["message"]["date"] == 1_700_000_001


def test_the_stream_has_commands_plain_text_private_chats_and_groups() -> None:
    messages = [make_update(42, n)["message"] for n in range(1, 201)]
    texts = [m["text"] for m in messages]
    assert {t.split(" ")[0].split("@")[0] for t in texts if t.startswith("/")} == {"/start", "/help", "/echo",
                                                                                  "/stats"}
    assert any(not t.startswith("/") for t in texts)
    assert any("@ljprof_demo_bot" in t for t in texts)  # a command addressed to the bot in a group
    assert {m["chat"]["type"] for m in messages} == {"private", "group"}
    assert all(m["chat"]["id"] < 0 for m in messages if m["chat"]["type"] == "group")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_updates_arrive_in_batches_and_an_offset_confirms_those_below_it() -> None:
    clock = Clock()
    api = Api(TOKEN, batch=10, interval=0.5, clock=clock)
    assert [u["update_id"] for u in api.get_updates(None, 0, 100)] == list(range(1, 11))
    # not confirmed yet: the same ten again, as Telegram does
    assert [u["update_id"] for u in api.get_updates(None, 0, 100)] == list(range(1, 11))
    assert [u["update_id"] for u in api.get_updates(4, 0, 3)] == [4, 5, 6]
    assert api.get_updates(11, 0, 100) == []  # nothing new until the next batch
    clock.now += 1.0  # two batches later
    assert [u["update_id"] for u in api.get_updates(11, 0, 100)] == list(range(11, 31))
    assert [u["update_id"] for u in api.get_updates(-2, 0, 100)] == [29, 30]  # the last two
    assert api.get_updates(None, 0, 100)[0]["update_id"] == 11  # offset 11 confirmed 1-10 for good


def test_a_reply_goes_only_to_a_chat_the_bot_has_seen(tmp_path: Path) -> None:
    api = Api(TOKEN, interval=0, record=tmp_path / "sent.jsonl")
    chat_id = make_update(42, 1)["message"]["chat"]["id"]
    assert api.send_message({"chat_id": chat_id, "text": "hi"}) == (
        400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    api.get_updates(None, 0, 1)
    status, answer = api.send_message({"chat_id": chat_id, "text": "hi", "reply_to_message_id": 1})
    assert status == 200 and answer["result"]["text"] == "hi" and answer["result"]["chat"]["id"] == chat_id
    assert api.send_message({"chat_id": chat_id, "text": " "})[1]["description"] == \
        "Bad Request: message text is empty"
    assert api.send_message({"text": "x"})[1]["description"] == "Bad Request: chat_id is empty"
    api.close()
    assert [json.loads(line) for line in (tmp_path / "sent.jsonl").read_text().splitlines()] == [
        {"chat_id": chat_id, "reply_to_message_id": 1, "text": "hi"}]


def test_the_token_in_the_path_is_checked_and_never_logged() -> None:
    api = Api(TOKEN, interval=0)
    assert api.call(f"/bot{TOKEN}/getMe", {})[1]["result"]["username"] == "ljprof_demo_bot"
    assert api.call("/botwrong/getMe", {}) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert api.call(f"/{TOKEN}/getMe", {})[0] == 401
    assert api.call(f"/bot{TOKEN}/kickChatMember", {})[0] == 404
    assert api.call(f"/bot{TOKEN}/getUpdates", {"offset": "x"})[0] == 400
    assert masked(f"/bot{TOKEN}/getUpdates") == "/bot***/getUpdates"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, list[str], Path]]:
    lines: list[str] = []

    class Out:
        def write(self, text: str) -> None:
            lines.append(text.rstrip("\n"))

        def flush(self) -> None:
            pass

    record = tmp_path / "sent.jsonl"
    api = Api(TOKEN, interval=0, record=record)
    server = Server(0, api, Out(), verbose=True)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", lines, record
    server.shutdown()
    server.server_close()
    api.close()


def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_over_http_json_bodies_and_query_strings(served: tuple[str, list[str], Path]) -> None:
    base, lines, record = served
    with urllib.request.urlopen(f"{base}/bot{TOKEN}/getUpdates?limit=2&offset=1", timeout=10) as answer:
        updates = json.loads(answer.read())["result"]
    assert [u["update_id"] for u in updates] == [1, 2]
    chat = updates[1]["message"]["chat"]["id"]
    assert post(f"{base}/bot{TOKEN}/sendMessage", {"chat_id": chat, "text": "/help is here"})[0] == 200
    assert post(f"{base}/botnope/sendMessage", {"chat_id": chat, "text": "x"})[0] == 401
    assert lines == ["GET /bot***/getUpdates -> 200 2 updates", "POST /bot***/sendMessage -> 200 ok",
                     "POST /bot***/sendMessage -> 401 Unauthorized"]
    assert json.loads(record.read_text()) == {"chat_id": chat, "reply_to_message_id": None, "text": "/help is here"}


def test_the_listen_backlog_takes_a_burst() -> None:
    assert Server.request_queue_size == BACKLOG >= 128


def test_without_its_token_it_says_which_variable_to_set(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAKE_TELEGRAM_TOKEN", raising=False)
    with pytest.raises(SystemExit) as info:
        main(["--port", "1"])
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python3 -m ljprof.services.fake_telegram: error: the token is missing: set FAKE_TELEGRAM_TOKEN "
        "(the bot's token; it is checked in every URL)")
