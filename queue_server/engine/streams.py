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
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import AskError, ClusterDownError, MovedError, ResponseError, TryAgainError
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


def _bulk(value: str | int | bytes) -> bytes:
    data = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


class StreamRead:
    """One XREAD or XREADGROUP over the same many streams, made again and again (a stream reader's
    or a consumer group's every read), kept as the protocol's bytes: the command names every
    center's stream and its position, ~600 arguments at the city's 287 centers, which hiredis packed
    afresh for each read in ~60 µs; here only the positions that moved are packed again. ``head`` is
    the command up to ``STREAMS``; ``ids`` the position of each stream, in the order of ``streams``."""

    def __init__(self, head: Sequence[str | int], streams: Sequence[str], ids: Sequence[str]) -> None:
        self.head, self.streams, self.ids = list(head), list(streams), list(ids)
        self.index = {s: i for i, s in enumerate(streams)}
        self._packed_head = b"*%d\r\n" % (len(head) + 1 + 2 * len(streams)) + b"".join(map(_bulk, head)) \
            + _bulk("STREAMS") + b"".join(map(_bulk, streams))
        self._packed_ids = [_bulk(i) for i in ids]

    def move(self, stream: str, entry_id: str) -> None:
        """The next read of ``stream`` starts after ``entry_id``."""
        i = self.index[stream]
        self.ids[i], self._packed_ids[i] = entry_id, _bulk(entry_id)

    async def __call__(self, client: Redis) -> Any:
        """The reply as redis-py's own call of the command gives it. On one of ``client``'s
        connections; one left with a reply unread (cancelled, or the connection lost) is closed. A
        cluster client (its streams all of one slot) routes the command as it would any other."""
        if isinstance(client, RedisCluster):
            return await client.execute_command(*self.head, "STREAMS", *self.streams, *self.ids)
        reply, = await _round_trip(client, self._packed_head + b"".join(self._packed_ids), 1)
        return client.response_callbacks[str(self.head[0])](reply)


async def _round_trip(client: Redis, packed: bytes, commands: int) -> list[Any]:
    """Write ``packed`` (``commands`` commands) on one of ``client``'s connections and read a reply
    to each. A refusal is raised once every reply is read, so the connection stays clean; one left
    with a reply unread (cancelled, or the connection lost) is closed."""
    pool = client.connection_pool
    conn = await pool.get_connection()
    replies: list[Any] = []
    refused: ResponseError | None = None
    try:
        await conn.send_packed_command([packed])
        for _ in range(commands):
            try:
                replies.append(await conn.read_response())
            except ResponseError as exc:
                refused = refused or exc
    except BaseException:
        await conn.disconnect(nowait=True)
        raise
    finally:
        await pool.release(conn)
    if refused is not None:
        raise refused
    return replies


async def acknowledge(client: Redis, group: str, acks: dict[str, list[bytes]]) -> None:
    """XACK ``group``'s entries: one command per stream (``acks``: stream -> entry ids), all of them
    packed here and written at once, their replies read in turn, as ``StreamRead`` makes its read. A
    consumer acknowledges each batch it reads, its entries spread over a stream per center; redis-py's
    pipeline spent Python on every command (its command stack, the packing call, a callback per
    reply). A refusal (the key no longer a stream) is raised once every reply is read. A cluster
    client (its streams all of one slot) takes redis-py's pipeline."""
    if not acks:
        return
    if isinstance(client, RedisCluster):
        async with client.pipeline(transaction=False) as pipe:
            for stream, ids in acks.items():
                pipe.xack(stream, group, *ids)
            await pipe.execute()
        return
    group_arg = _bulk(group)
    packed = b"".join(b"*%d\r\n$4\r\nXACK\r\n%s%s%s" % (len(ids) + 3, _bulk(stream), group_arg, b"".join(map(_bulk, ids)))
                      for stream, ids in acks.items())
    await _round_trip(client, packed, len(acks))
