"""A network change reaches every running instance: the instance that made it publishes on
``keys.network_changes()``; each instance, subscribed, reloads its catalog from PostgreSQL and swaps
it into every holder at once (no await between the assignments, so no request sees a mix). Each
also reloads on every (re)subscription, and once a minute when the catalog's tables changed since
its last load (``catalog_fingerprint``), so a lost message, or a change made outside the API, only
delays a change — without rebuilding the whole city's catalog in every process every minute."""
from __future__ import annotations

import asyncio
import logging
import time

import orjson
from starlette.applications import Starlette

from queue_server.api.problems import REDIS_AWAY
from queue_server.engine.channels import follow
from queue_server.record.catalog import catalog_fingerprint, load_catalog
from queue_server.supervisor import Supervisor

log = logging.getLogger("network")
SAFETY_RELOAD_S = 60   # a look this often: a change whose message was lost, or made outside the API, still arrives


class CatalogReloader:
    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._lock = asyncio.Lock()   # reloads one after another: a slow older load never lands after a newer one
        self.reloads = 0
        self.last_reload_at = 0.0
        self.fingerprint: str | None = None   # the catalog's tables as of the last load

    async def reload(self, only_if_changed: bool = False) -> None:
        """Load the catalog and swap it in; ``only_if_changed``: only when its tables changed since
        the last load. Their fingerprint is read before the load: a change landing in between is
        loaded now and, its fingerprint being newer, once more at the next check — never missed."""
        state = self.app.state
        async with self._lock:
            fingerprint = await catalog_fingerprint(state.pool)
            if only_if_changed and fingerprint == self.fingerprint:
                self.last_reload_at = time.monotonic()
                return
            catalog = await load_catalog(state.pool)
            state.engine.catalog = catalog               # the API, live sockets, evaluation and ops read it here
            outbox = getattr(state, "sms_outbox", None)
            if outbox is not None:
                outbox.catalog = catalog
            self.fingerprint = fingerprint
            self.reloads += 1
            self.last_reload_at = time.monotonic()

    async def changed(self, what: dict[str, str]) -> None:
        """This instance changed the network: take it at once, then tell the others. The change is
        already recorded, so a Redis that cannot take the message only delays the others (they also
        reload every SAFETY_RELOAD_S) and is not the caller's error."""
        await self.reload()
        try:
            await self.app.state.redis.publish(self.app.state.keys.network_changes(), orjson.dumps(what))
        except REDIS_AWAY as exc:
            log.warning("network change %s not published (%s); other instances take it within %d s",
                        what, exc, SAFETY_RELOAD_S)

    async def listen(self, work: Supervisor) -> None:
        """Subscribed for as long as the app runs; a reload follows every (re)subscription, so a change
        published while this instance was not listening is not missed, and every SAFETY_RELOAD_S one
        if the catalog's tables changed."""
        async def if_due() -> None:
            if time.monotonic() - self.last_reload_at > SAFETY_RELOAD_S:
                await self.reload(only_if_changed=True)

        state = self.app.state
        await follow(state.settings, state.keys.network_changes(), "network-changes", work.stop,
                     on_message=lambda _: self.reload(), on_subscribed=self.reload, on_quiet=if_due)
