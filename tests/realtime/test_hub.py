"""The pure parts of live delivery: stream ids, which cursors can be honoured, what an event looks
like on its way out, and how the hub routes, drops and pings (with a subscriber that records)."""
from __future__ import annotations

import asyncio
import contextlib

import orjson

from queue_server.realtime.config import RealtimeConfig
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from queue_server.realtime.events import LiveEvent, decode, parse_id, text_frame
from queue_server.clock import SystemClock
from queue_server.realtime.hub import SWEEP_SLICE, Hub
from queue_server.realtime.opening import honourable


class Recorder:
    """A hub subscriber that keeps what it is offered, up to ``room`` events."""

    def __init__(self, center: str, window: str | None = None, room: int = 100) -> None:
        self.center, self.window, self.room = center, window, room
        self.sending_since = 0.0
        self.last_sent = 0.0
        self.got: list[str] = []
        self.pings: list[str] = []
        self.killed: tuple[int, str, bool] | None = None

    def offer(self, event: LiveEvent) -> bool:
        if len(self.got) >= self.room:
            return False
        self.got.append(event.id)
        return True

    def ping(self, text: str, frame: bytes) -> None:
        assert frame == text_frame(text.encode())
        self.pings.append(text)

    def kill(self, code: int, reason: str, hard: bool = True) -> None:
        self.killed = (code, reason, hard)


def entry(n: int, kind: str = "ticket.called", window: str | None = "w1", ticket_window: str | None = None,
          center: str = "jingansi") -> LiveEvent:
    data = {"type": kind, "at": 1, "center": center,
            "ticket": {"id": f"{center}-20260101-A{n:03d}", "window": ticket_window, "phone": "13812345678",
                       "status_token": "digest"}}
    if window:
        data["window"] = {"id": window}
    event = decode(center, f"{1000 + n}-0".encode(), {b"type": kind.encode(), b"data": orjson.dumps(data)})
    assert event is not None
    return event


def test_stream_ids_compare_as_numbers() -> None:
    assert parse_id("1795934264555-10") > parse_id("1795934264555-9") > parse_id("999999999999-99")
    assert parse_id(b"5-0") == (5, 0)
    for bad in ("", "5", "5-", "-1-0", "a-b", "5-0 ", "5-0\n", "٥-0", "²-0", "1" * 21 + "-0", None):
        assert parse_id(bad) is None


def test_which_cursors_can_be_honoured() -> None:
    assert honourable((5, 0), (5, 0), (9, 0))       # the oldest retained entry itself
    assert honourable((7, 1), (5, 0), (9, 0))
    assert not honourable((4, 9), (5, 0), (9, 0))   # something after it may have been trimmed
    assert not honourable((9, 1), (5, 0), (9, 0))   # from the future (another history)
    assert honourable((0, 0), None, None)           # empty stream, nothing was ever there
    assert not honourable((3, 0), None, None)


def test_events_leave_without_the_phone_and_know_their_windows() -> None:
    e = entry(1, window="w2", ticket_window="w3")
    out = orjson.loads(e.text)
    assert out["id"] == e.id and e.key == (1001, 0) and e.type == "ticket.called"
    assert "phone" not in out["ticket"] and out["ticket"]["phone_masked"] == "138****5678"
    assert "status_token" not in out["ticket"]
    assert e.windows == {"w2", "w3"} and e.ticket_id == "jingansi-20260101-A001"
    assert "phone" not in e.data["ticket"] and e.data == out    # what listeners read is what was sent
    assert entry(2, kind="ticket.issued", window=None).windows == frozenset()
    assert decode("jingansi", b"1-0", {b"type": b"x"}) is None
    assert decode("jingansi", b"1-0", {b"data": b"not json"}) is None


def test_an_event_with_nothing_private_goes_out_as_written() -> None:
    """The entry's own JSON, as Lua's cjson writes it (slashes escaped, UTF-8 as is), with the id added:
    the same message as the parsed event serialised again, which what has a phone still gets."""
    written = '{"type":"ticket.called","at":5,"ticket":{"id":"jingansi-20260101-A001","window":"w1"},' \
              '"window":{"id":"w1","name_zh":"1号窗口","note":"a\\/b"}} \n'.encode()
    e = decode("jingansi", b"7-1", {b"data": written})
    assert e is not None
    assert e.text == written.rstrip()[:-1].decode() + ',"id":"7-1"}'
    assert orjson.loads(e.text) == e.data and e.data["id"] == "7-1" and e.data["window"]["note"] == "a/b"
    assert e.windows == {"w1"} and e.ticket_id == "jingansi-20260101-A001"
    for data in ({}, {"type": "x", "id": "theirs"}):   # nothing to add the id after; an id of its own replaced
        e = decode("jingansi", b"8-0", {b"data": orjson.dumps(data)})
        assert e is not None and orjson.loads(e.text) == {**data, "id": "8-0"} == e.data


def test_an_events_frame_is_what_a_websocket_client_reads() -> None:
    """The ready-made frame written to every socket parses, in the websockets library's own client-side
    reader, as one unmasked final text frame carrying the message, at each length encoding."""
    for size in (0, 1, 125, 126, 127, 65_535, 65_536, 70_000):
        payload = ("号" * (size // 3) + "x" * (size % 3)).encode()
        reader = StreamReader()
        reader.feed_data(text_frame(payload))
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frame = done.value
        assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, payload)
        made = LiveEvent("jingansi", "1-0", (1, 0), "x", frozenset(), None, {}, text_frame(payload))
        assert made.text == payload.decode()    # the text is read back out of the frame
    event = entry(1)
    assert event.frame == text_frame(event.text.encode())
    assert orjson.loads(event.text) == event.data


def test_hub_routes_by_center_and_window_and_drops_the_full() -> None:
    hub = Hub(RealtimeConfig())
    display, screen_w1, screen_w2 = Recorder("jingansi"), Recorder("jingansi", "w1"), Recorder("jingansi", "w2")
    elsewhere, small = Recorder("caojiadu"), Recorder("jingansi", room=1)
    for s in (display, screen_w1, screen_w2, elsewhere, small):
        hub.add(s)
    hub.publish(entry(1, window="w1"))
    hub.publish(entry(2, window=None, ticket_window="w2"))
    hub.publish(entry(3, kind="ticket.issued", window=None))
    assert display.got == ["1001-0", "1002-0", "1003-0"]
    assert screen_w1.got == ["1001-0"] and screen_w2.got == ["1002-0"] and elsewhere.got == []
    assert small.killed == (1013, "send queue overflow", True) and hub.dropped == 1
    hub.publish(entry(4))
    assert small.got == ["1001-0"]  # dropped: offered nothing more
    assert hub.reset("jingansi", "history lost") == 3
    assert display.killed == (1012, "history lost", False) and screen_w2.killed is not None
    assert hub.subscribers() == [elsewhere]
    assert hub.sockets_by_center() == {"caojiadu": 1}   # a center whose sockets all left is not listed


def test_the_sockets_are_counted_by_center() -> None:
    hub = Hub(RealtimeConfig())
    subs = [Recorder("jingansi"), Recorder("jingansi"), Recorder("jingansi", "w1"), Recorder("jingansi", "w2"),
            Recorder("caojiadu", "w1")]
    for s in subs:
        hub.add(s)
    assert hub.sockets_by_center() == {"jingansi": 4, "caojiadu": 1}
    hub.remove(subs[-1])
    assert hub.sockets_by_center() == {"jingansi": 4}


def test_sweep_pings_the_silent_and_drops_the_stalled() -> None:
    hub = Hub(RealtimeConfig(ping_s=15, stall_s=10))
    quiet, busy, stuck = Recorder("jingansi"), Recorder("jingansi"), Recorder("jingansi")
    quiet.last_sent, busy.last_sent = 100.0, 110.0
    stuck.sending_since = 100.0
    for s in (quiet, busy, stuck):
        hub.add(s)
    hub.sweep(now=115.5, now_ms=42)
    assert [orjson.loads(p) for p in quiet.pings] == [{"type": "ping", "now": 42}]
    assert busy.pings == [] and stuck.pings == []
    assert stuck.killed == (1013, "send stalled", True) and set(hub.subscribers()) == {quiet, busy}


async def test_a_sweep_lets_the_loop_turn_between_slices_and_pings_every_silent_socket_once() -> None:
    """A process's requests and events wait for one slice of a sweep, not for the whole of it."""
    hub = Hub(RealtimeConfig(ping_s=0.3, stall_s=10))
    subs = [Recorder("jingansi", f"w{n % 20}") for n in range(2 * SWEEP_SLICE + 1)]
    for s in subs:
        hub.add(s)
    sweeper = asyncio.ensure_future(hub.run_sweeper(asyncio.Event(), SystemClock()))
    seen = {0}   # how many sockets had been pinged, at each turn of the loop
    while (pinged := sum(bool(s.pings) for s in subs)) < len(subs):
        seen.add(pinged)
        await asyncio.sleep(0)
    sweeper.cancel()   # asleep until its next sweep
    with contextlib.suppress(asyncio.CancelledError):
        await sweeper
    assert seen == {0, SWEEP_SLICE, 2 * SWEEP_SLICE}   # the loop turned after each slice, and only then
    assert all(len(s.pings) == 1 for s in subs)
