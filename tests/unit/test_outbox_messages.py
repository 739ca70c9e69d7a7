"""The relay writes Dramatiq messages itself (``messaging/relay.py`` says why): what it writes
must decode to the very message Dramatiq would have written, so workers cannot tell."""

from __future__ import annotations

import orjson
from dramatiq import Message

from yibao.config import Settings
from yibao.events.names import SUBSCRIBERS
from yibao.messaging.broker import make_broker
from yibao.messaging.relay import _AsyncDispatch, _fields, messages_for


def test_relay_bytes_decode_to_the_message_dramatiq_would_encode() -> None:
    queue, actor = SUBSCRIBERS["settlement.created"][0]
    fields = _fields(
        "0190f1a2-0000-7000-8000-000000000001", queue, actor, {"redis_message_id": "r-1"}, 1_767_225_600_000
    )
    assert Message.decode(orjson.dumps(fields)) == Message.decode(Message(**fields).encode())


def test_every_subscriber_of_a_topic_gets_one_message_named_after_the_event() -> None:
    messages = messages_for("e-1", "settlement.created")
    assert {(m.queue_name, m.actor_name) for m in messages} == set(SUBSCRIBERS["settlement.created"])
    assert {m.message_id for m in messages} == {f"e-1:{queue}" for queue, _ in SUBSCRIBERS["settlement.created"]}
    assert messages_for("e-1", "no.such.topic") == []


def test_our_middleware_has_no_enqueue_hooks_so_the_fast_path_is_taken() -> None:
    assert not _AsyncDispatch(make_broker(Settings())).hooked
