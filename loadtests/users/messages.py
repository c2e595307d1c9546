"""What a screen needs of a live message, taken without parsing its JSON where it can be: a city's
screens generator receives ~3,700 messages a second in each of its processes, and parsing every one
whole was a quarter of its Python time. The server sends an event as the stream entry's own JSON
with the entry's id added as its last key (``queue_server.realtime.events.decode``); apart from
``screens.py`` so that it is tested without Locust."""
from __future__ import annotations

CALLED = "ticket.called"   # a call is always parsed whole: its ``at`` is what the screens time
_ID = ',"id":"'


def event_id(text: str) -> str | None:
    """The stream id of an event message, which ends in its top-level ``"id"`` (``…,"id":"<ms>-<seq>"}``:
    a nested object's would be followed by its own closing brace); None for any other message."""
    if not text.endswith('"}'):
        return None
    value = text[text.rfind(_ID) + len(_ID):-2] if _ID in text else ""
    ms, dash, seq = value.partition("-")
    return value if dash and ms.isdigit() and seq.isdigit() else None
