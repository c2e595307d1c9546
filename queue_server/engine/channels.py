"""Following a Redis pub/sub channel for as long as the app runs: how a change made on one instance
(the calendar, the service network, a revoked device) reaches every other at once."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ..config import Settings
from .connection import subscriber


async def follow(settings: Settings, channel: str, name: str, stop: asyncio.Event,
                 on_message: Callable[[bytes], Awaitable[object]],
                 on_subscribed: Callable[[], Awaitable[object]] | None = None,
                 on_quiet: Callable[[], Awaitable[object]] | None = None, pattern: bool = False) -> None:
    """Subscribe on a connection of its own (no socket timeout; ``name`` is its client name), then call
    ``on_subscribed`` — a message published before it is not seen, so a follower of state reloads there —,
    ``on_message`` with each message's data, and ``on_quiet`` after each second without one. A failure ends
    the call: the supervisor starts it again, and the new subscription calls ``on_subscribed`` again. With
    ``pattern`` the channel is a glob (PSUBSCRIBE): one subscription for a family of channels."""
    client = await subscriber(settings.redis_url, f"{settings.key_prefix}:{name}")  # type: ignore[arg-type]
    try:
        async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await (pubsub.psubscribe(channel) if pattern else pubsub.subscribe(channel))
            if on_subscribed is not None:
                await on_subscribed()
            while not stop.is_set():
                message = await pubsub.get_message(timeout=1.0)
                if message is not None:
                    await on_message(message["data"])
                elif on_quiet is not None:
                    await on_quiet()
    finally:
        await client.aclose()
