"""Watching registered devices: every few seconds each instance hands every center's devices to one
script (``device_presence.lua``) that compares each one's last heard-from time with its threshold and
announces a change of state as ``device.online`` or ``device.offline`` on the center's stream. The
state and the event change in the same script, so any number of watching instances emit each
transition once. Revocations travel the same way to every instance, over pub/sub."""
from __future__ import annotations

import asyncio
import logging

import orjson
from starlette.applications import Starlette

from ..engine.channels import follow
from ..engine.scripts import script
from ..supervisor import Supervisor
from .store import watched

log = logging.getLogger("queue_server.devices")


class DeviceWatch:
    def __init__(self, app: Starlette, every_s: float) -> None:
        self.app = app
        self.every_s = every_s
        self.device_presence = script(app.state.redis, "device_presence")
        self.announced = 0     # transitions this instance's script calls emitted

    async def check(self) -> list[str]:
        """One look at every registered device; the ids whose state changed."""
        state = self.app.state
        devices = await watched(state.pool)
        now = state.clock.now_ms()
        changed: list[str] = []
        for center, found in devices.items():
            if center not in state.engine.catalog.centers:
                continue
            args: list[object] = [now, state.settings.stream_maxlen]
            for device_id, field, after_ms, shown in found:
                args += [device_id, field, after_ms, orjson.dumps(shown)]
            keys = [state.keys.devices(center), state.keys.device_states(center), state.keys.events(center)]
            ids = await self.device_presence(keys=keys, args=args)
            changed += [i.decode() if isinstance(i, bytes) else i for i in ids]
        self.announced += len(changed)
        return changed

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``; a failure (Redis or PostgreSQL away) ends the run, for the supervisor to restart."""
        while not stop.is_set():
            await self.check()
            try:
                await asyncio.wait_for(stop.wait(), self.every_s)
            except asyncio.TimeoutError:
                pass


async def revoked(app: Starlette, hashes: list[str]) -> None:
    """Tell every instance (this one included, through the same channel) that these tokens are revoked."""
    for digest in hashes:
        await app.state.redis.publish(app.state.keys.device_revocations(), digest)


def forget_here(app: Starlette, digest: str) -> int:
    """On this instance: the token stops resolving and its sockets (live screens, dashboards, video
    sessions) close with 4401 at once."""
    reason = "the token was revoked"
    app.state.tokens.forget(digest)
    return (app.state.realtime.hub.close_token(digest, reason) + app.state.ops.broadcaster.close_token(digest, reason)
            + app.state.remote_sessions.close_token(digest, reason))


async def listen_revocations(app: Starlette, stop: asyncio.Event) -> None:
    """Subscribed for as long as the app runs. A revocation published while this instance was not
    listening still reaches it within seconds: the token cache polls PostgreSQL for revocations, and a
    socket is checked again when it reconnects."""
    async def forget(data: bytes) -> None:
        forget_here(app, data.decode() if isinstance(data, bytes) else str(data))

    state = app.state
    await follow(state.settings, state.keys.device_revocations(), "device-revocations", stop, on_message=forget)


def start(app: Starlette, work: Supervisor, every_s: float) -> DeviceWatch:
    watch = DeviceWatch(app, every_s)
    if app.state.settings.runs_background:   # one look at every device's presence: a background sweep
        work.run("device-watch", lambda: watch.run(work.stop))
    work.run("device-revocations", lambda: listen_revocations(app, work.stop))
    return watch
