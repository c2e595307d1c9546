"""Stream entries as the sockets get them: parsed, phone removed and serialised ONCE per process (an
entry with nothing to remove goes out as written), then handed to every local subscriber as the
same bytes, down to the websocket frame."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..domain.tickets import public_event

StreamKey = tuple[int, int]
ZERO: StreamKey = (0, 0)


def parse_id(raw: str | bytes | None) -> StreamKey | None:
    """A stream id ``ms-seq`` (ASCII digits, 1-20 each) as a comparable pair; None when it is not
    one. Without a regular expression: every event each process reads passes here (half the cost)."""
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, dash, seq = text.partition("-")
    if dash and 0 < len(ms) <= 20 and 0 < len(seq) <= 20 and text.isascii() and ms.isdigit() and seq.isdigit():
        return int(ms), int(seq)
    return None


def format_id(key: StreamKey) -> str:
    return f"{key[0]}-{key[1]}"


@dataclass(slots=True)
class LiveEvent:
    """Read-only once made (not frozen: a frozen dataclass's constructor costs three times as much, and
    one is made for every event each process reads)."""
    center: str
    id: str
    key: StreamKey
    type: str
    windows: frozenset[str]    # the windows the event is about (screens and tablets filter on it)
    ticket_id: str | None
    data: dict[str, Any]       # the message as sent, parsed: public_event(data) with "id" added (read-only)
    frame: bytes               # that message as one websocket text frame from the server

    @property
    def text(self) -> str:
        """The message as text, for the few sends that cannot write the frame itself (a socket's opening)."""
        n = self.frame[1]
        return self.frame[2 if n < 126 else 4 if n == 126 else 10:].decode()


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented websocket text frame (RFC 6455 5.2), as a server sends it: built once
    per event, it goes to every socket that wants the event without being encoded again."""
    n = len(payload)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 1 << 16:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return head + payload


def windows_of(data: dict[str, Any]) -> frozenset[str]:
    """``window.id`` and ``ticket.window``: what makes an event a window screen's business."""
    found = set()
    w = data.get("window")
    if isinstance(w, dict) and w.get("id"):
        found.add(str(w["id"]))
    t = data.get("ticket")
    if isinstance(t, dict) and t.get("window"):
        found.add(str(t["window"]))
    return frozenset(found)


def decode(center: str, entry_id: str | bytes, fields: dict[Any, Any]) -> LiveEvent | None:
    """One stream entry (as redis-py returns it); None for an entry that is not an engine event."""
    eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    key = parse_id(eid)
    raw = fields.get(b"data", fields.get("data"))
    if key is None or raw is None:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    # Public as written: the message is the entry's own JSON with the id added before its closing brace,
    # not the parsed event serialised again (a fifth of the decode, in every sockets process).
    as_written = public_event(data) and bool(data) and "id" not in data
    data["id"] = eid
    payload = (raw if isinstance(raw, bytes) else raw.encode()).rstrip()[:-1] + b',"id":"%s"}' % eid.encode() \
        if as_written else orjson.dumps(data)
    ticket = data.get("ticket")
    return LiveEvent(center, eid, key, str(data.get("type", "")), windows_of(data),
                     ticket.get("id") if isinstance(ticket, dict) else None, data, text_frame(payload))
