"""A listener of the hub (the live figures, the evaluation's recent finishes) that raises on an event
must not cost the screens anything: every subscriber of the process still gets that event and the
ones after it, the other listeners too, and the failure is counted in /metrics."""
from __future__ import annotations

import asyncio
import time

from queue_server.config import Settings
from queue_server.realtime.events import LiveEvent
from tests.realtime.test_hub import Recorder
from tests.support import AUTH, running_app

C = "jingansi"


async def test_a_listener_that_raises_neither_stops_the_reader_nor_loses_the_event(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        hub = app.state.realtime.hub
        screen = Recorder(C, room=1_000)             # stands in for a display socket of this process
        hub.add(screen)
        seen: list[str] = []
        raised: list[str] = []

        def fragile(event: LiveEvent) -> None:
            """Raises on the second ticket issued, like a figure meeting data it did not expect."""
            if event.type == "ticket.issued":
                seen.append(event.id)
                if len(seen) == 2:
                    raised.append(event.id)
                    raise KeyError("queue")

        hub.listeners.append(fragile)
        issued = []
        for _ in range(5):
            answer = await client.post(f"/api/v1/centers/{C}/tickets", json={"matter": "hrss-001"}, headers=AUTH)
            assert answer.status_code == 201
            issued.append(answer.json()["id"])

        stream = app.state.keys.events(C)
        ids = [sid.decode() for sid, _ in await app.state.redis.xrange(stream)]
        deadline = time.monotonic() + 20
        while screen.got[-1:] != ids[-1:]:
            assert time.monotonic() < deadline, f"the screen stopped receiving: {screen.got} of {ids}"
            await asyncio.sleep(0.02)
        assert screen.got == ids                     # every event, the one that raised included, once
        assert raised and raised[0] in screen.got
        assert len(seen) == 5                        # the listener itself goes on with the next events
        figures = app.state.ops.figures.centers[C]
        while figures.cursor != ids[-1]:             # and so do the other listeners (the live figures)
            assert time.monotonic() < deadline, "the ops figures stopped at the event that raised"
            await asyncio.sleep(0.02)

        assert hub.listener_errors == {fragile.__qualname__: 1}
        assert app.state.supervisor.tasks["realtime-reader"].restarts == 0
        text = (await client.get("/metrics", headers=AUTH)).text
        assert f'hub_listener_errors_total{{listener="{fragile.__qualname__}"}} 1.0' in text
