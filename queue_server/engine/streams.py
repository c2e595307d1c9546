"""Blocking reads of many centers' event streams. On a single Redis one XREAD (or XREADGROUP) names
every center's stream. On a Redis Cluster a command may only name keys of one slot — even two slots
of the same node answer CROSSSLOT —, so the centers are grouped by slot (in practice one center
each: a center is a hash tag) and each group is read on its own connection to the master owning the
slot, all at once: a blocked connection per center and reader, none polling. The grouping is taken
afresh each time a reader starts: a slot that moves or a master that fails over ends the reads with
an error (MOVED, a lost connection), the supervisor starts the reader again, and the new grouping
follows the cluster as it is now."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import AskError, ClusterDownError, MovedError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .connection import ClusterView, is_cluster, node_client, redis_client
from .keys import Keys

# What ends a node's reads without being a fault of the reader: the node away, or its slots moved.
INTERRUPTIONS = (RedisConnectionError, RedisTimeoutError, OSError, MovedError, AskError, ClusterDownError, TryAgainError)


class StreamNodes:
    """Which connection reads which centers' streams; ``name`` names the connections in CLIENT LIST."""

    def __init__(self, url: str, keys: Keys, name: str, max_connections: int = 4) -> None:
        self.url, self.keys, self.name, self.max_connections = url, keys, name, max_connections
        self._single = None if is_cluster(url) else redis_client(url, blocking=True, name=name,
                                                                  max_connections=max_connections)
        self._view = ClusterView(url) if is_cluster(url) else None
        self._nodes: dict[tuple[str, int], Redis] = {}

    async def groups(self, centers: list[str]) -> list[tuple[Redis, list[str]]]:
        """(a blocking client, the centers whose streams one read may name together), one pair per
        group: all centers on a single Redis, one slot's on a cluster."""
        if self._view is None:
            return [(self._single, centers)]   # type: ignore[list-item]
        cluster = await self._view.look()
        by_slot: dict[int, list[str]] = {}
        for c in centers:
            by_slot.setdefault(cluster.keyslot(self.keys.events(c)), []).append(c)
        owners = {slot: cluster.nodes_manager.get_node_from_slot(slot) for slot in by_slot}
        per_node: dict[tuple[str, int], int] = {}
        for node in owners.values():
            per_node[(node.host, int(node.port))] = per_node.get((node.host, int(node.port)), 0) + 1
        for client in self._nodes.values():   # the last start's: its reads have ended
            await client.aclose()
        # a blocked connection for each read, and a few for the rest (acknowledging, claiming)
        self._nodes = {at: node_client(at, self.name, reads + self.max_connections) for at, reads in per_node.items()}
        return [(self._nodes[(owners[slot].host, int(owners[slot].port))], cs) for slot, cs in by_slot.items()]

    async def on_each(self, centers: list[str], read: Callable[[Redis, list[str]], Awaitable[None]]) -> None:
        """Run ``read(client, centers)`` for every group at once, until all end; the first to
        fail ends the others and its error is raised (a node gone: the caller starts over)."""
        groups = await self.groups(centers)
        if len(groups) == 1:
            await read(*groups[0])
            return
        tasks = [asyncio.ensure_future(read(client, cs)) for client, cs in groups]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        for client in [self._single, self._view, *self._nodes.values()]:
            if client is not None:
                await client.aclose()
        self._nodes.clear()
