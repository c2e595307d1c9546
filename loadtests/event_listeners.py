"""What one event of a center's stream costs a sockets process with no socket open: every sockets
process decodes every event of every center and hands it to the hub's in-process listeners (the ops
figures' feed, the evaluation's recently served, the session relay) whether or not a screen or a
dashboard watches — at the city, ~1,000 events a second in each of them. Real engine events (whole
visits through the app in this process), then this process's CPU per event for the decode and for
each listener on its own, each over fresh figures and caches, ``--rounds`` times interleaved; the
decode is the baseline the listeners are given against.

    python -m loadtests.event_listeners [--visits 500] [--rounds 20]"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from evaluation.served import RecentlyFinished
from loadtests.harness import fresh_database, key_prefix, run, services
from loadtests.request_path import C, WINDOWS, open_hall, visits
from queue_server.ops.feed import Feed
from queue_server.ops.live import LiveFigures
from queue_server.realtime.events import LiveEvent, decode


def listeners(app: Any) -> dict[str, Callable[[], Callable[[LiveEvent], None]]]:
    """Each listener of the hub as the app composes it, made afresh for a round (figures and caches
    empty, so every event is applied, none skipped as seen)."""
    state = app.state
    ops = state.ops

    def feed() -> Callable[[LiveEvent], None]:
        figures = LiveFigures(state.engine.catalog.centers, state.settings.timezone, ops.config.service_level_s,
                              state.clock.now_ms())
        f = Feed(figures, state.realtime.reader, state.redis, state.pool, state.engine, state.clock,
                 ops.broadcaster.changed, ops.metrics.count_event)
        return f.take

    def recent() -> Callable[[LiveEvent], None]:
        return RecentlyFinished(state.evaluation.recent.size).take

    relay = state.remote_sessions
    return {"ops feed": feed, "recently served": recent, "session relay": lambda: relay.on_event}


async def measure(redis_url: str, database_url: str, prefix: str, n: int, rounds: int) -> dict[str, Any]:
    async with open_hall(redis_url, database_url, prefix) as (app, kiosk, clerks):
        await asyncio.gather(*(visits(app, kiosk, clerks[w], w, n // len(WINDOWS)) for w in WINDOWS))
        entries = await app.state.redis.xrange(app.state.keys.events(C))
        made = listeners(app)
        spent = dict.fromkeys(["decode", *made], 0.0)
        kinds: dict[str, int] = {}
        for _ in range(rounds):
            started = time.process_time()
            events = [decode(C, entry_id, fields) for entry_id, fields in entries]
            spent["decode"] += time.process_time() - started
            events = [e for e in events if e is not None]
            for e in events:
                kinds[e.type] = kinds.get(e.type, 0) + 1
            for name, make in made.items():
                listen = make()
                started = time.process_time()
                for e in events:
                    listen(e)
                spent[name] += time.process_time() - started
    each = rounds * len(entries)
    out: dict[str, Any] = {"events": len(entries), "rounds": rounds,
                           "kinds": {k: v // rounds for k, v in sorted(kinds.items())},
                           "cpu_us_per_event": {name: round(s / each * 1e6, 2) for name, s in spent.items()}}
    out["listeners / decode"] = {name: round(s / spent["decode"], 2) for name, s in spent.items() if name != "decode"}
    return out


async def main(n: int, rounds: int) -> None:
    with services() as (redis_url, dsn), key_prefix(redis_url, "listeners") as prefix:
        async with fresh_database(dsn) as database_url:
            print(json.dumps(await measure(redis_url, database_url, prefix, n, rounds), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visits", type=int, default=500, help="whole visits made to fill the stream")
    parser.add_argument("--rounds", type=int, default=20, help="passes over the stream's events")
    args = parser.parse_args()
    run(main(args.visits, args.rounds))
