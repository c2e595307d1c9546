"""The screens generator reads an event's id without parsing the message: it must find exactly what
a whole parse finds in every event the server sends, and nothing in any other message (those are
parsed whole, as are calls, whose time the screens measure)."""
from __future__ import annotations

import orjson

from loadtests.users.messages import CALLED, event_id
from queue_server.realtime.events import LiveEvent, decode

TICKET = {"id": "A017", "queue": "general", "status": "serving", "window": "w2", "issued_at": 1, "called_at": 2,
          "name": "张三"}


def sent(event: dict, entry_id: str = "1733450000000-7") -> LiveEvent:
    made = decode("c01", entry_id.encode(), {b"data": orjson.dumps(event)})
    assert made is not None
    return made


def test_an_events_id_is_read_as_a_whole_parse_reads_it() -> None:
    as_written = sent({"type": "ticket.finished", "at": 5, "ticket": TICKET, "window": {"id": "w2", "ticket": "A017"}})
    made_public = sent({"type": "ticket.started", "at": 6, "ticket": {**TICKET, "phone": "13800000000"}},
                       "1733450000001-0")   # the phone taken out: the server serialised it again
    for event in (as_written, made_public):
        assert event_id(event.text) == orjson.loads(event.text)["id"] == event.id
    assert "13800000000" not in made_public.text


def test_other_messages_and_nested_ids_are_left_to_a_whole_parse() -> None:
    for text in ('{"type":"ping","now":1733450000000}',
                 '{"type":"resume","cursor":"1733450000000-7","epoch":"e1"}',
                 '{"type":"snapshot","cursor":"1-0","tickets":[{"id":"A017"}]}',
                 '{"type":"x","ticket":{"id":"A017"}}',
                 '{"type":"x","ticket":{"id":"1-0"}}',
                 '{"type":"x","id":"not-an-id"}'):
        assert event_id(text) is None, text


def test_a_call_is_always_recognised_for_a_whole_parse() -> None:
    call = sent({"type": CALLED, "at": 7, "ticket": TICKET, "window": {"id": "w2"}})
    assert CALLED in call.text and orjson.loads(call.text)["type"] == CALLED
