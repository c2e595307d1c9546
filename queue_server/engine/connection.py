"""The one way to a Redis client: a single Redis (``redis://``, ``unix://``) or a Redis Cluster
(``redis+cluster://`` naming any of its nodes; the client finds the rest and follows slot moves).

Connections pack commands with hiredis's C packer. redis-py's asyncio connection packs every command
in Python (the sync one can use hiredis): 19 µs for an issue's EVALSHA, 1.1 ms for the stream
readers' XREAD naming 287 centers' streams, against 5 µs and 0.14 ms here. The bytes on the wire are
the same, and so are the errors (a bool is refused, as redis-py does). They write without a task per
command and read under the socket timeout without a timer per reply."""
from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import AsyncIterator
from typing import Any

import hiredis
import redis
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError

CLUSTER_SCHEME = "redis+cluster://"


class _LeanRoundTrip:
    """Commands packed by hiredis, written without a task, and read under one watch per connection."""
    _read_deadline: float | None = None   # when the read in progress times out; None between reads
    _read_watch: asyncio.TimerHandle | None = None
    _read_timed_out = False

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """A command onto a socket whose buffer is empty is handed to the kernel at once: nothing to
        wait for, so without redis-py's ``wait_for`` under the socket timeout (a task per command).
        Anything else (a backlog to drain, health checks, not connected) goes redis-py's way."""
        writer = self._writer   # type: ignore[attr-defined]
        if writer is None or not isinstance(command, list) or self.health_check_interval \
                or writer.transport.get_write_buffer_size():   # type: ignore[attr-defined]
            return await super().send_packed_command(command, check_health)  # type: ignore[misc]
        try:
            if writer.transport.is_closing():
                raise OSError("the connection is closed")
            writer.writelines(command)
        except OSError as exc:
            await self.disconnect(nowait=True)   # type: ignore[attr-defined]
            raise redis.exceptions.ConnectionError(f"Error while writing to socket: {exc}") from exc
        except BaseException:
            await self.disconnect(nowait=True)   # type: ignore[attr-defined]
            raise

    async def read_response(self, disable_decoding: bool = False, timeout: float | None = None, *,
                            disconnect_on_error: bool = True, push_request: bool | None = False) -> Any:
        """The socket timeout without a timer per read: redis-py arms and cancels one (``asyncio.timeout``,
        7 µs) around every reply, a tenth of a queue operation's CPU over its few Redis commands. Here a
        read sets its deadline, and one timer per connection, armed by the first read that finds none,
        looks when it falls due: a read still waiting past its deadline has its connection aborted and
        raises redis-py's TimeoutError, as before; otherwise the timer follows the current read's
        deadline, or lapses between reads. A read with a timeout of its own goes redis-py's way."""
        if timeout is not None or self.socket_timeout is None or self._writer is None:   # type: ignore[attr-defined]
            return await super().read_response(disable_decoding, timeout,  # type: ignore[misc]
                                               disconnect_on_error=disconnect_on_error, push_request=push_request)
        loop = asyncio.get_running_loop()
        self._read_deadline = loop.time() + self.socket_timeout   # type: ignore[attr-defined]
        self._read_timed_out = False
        if self._read_watch is None:
            self._read_watch = loop.call_at(self._read_deadline, self._watch_read)
        try:
            return await super().read_response(disable_decoding, math.inf,  # type: ignore[misc]
                                               disconnect_on_error=disconnect_on_error, push_request=push_request)
        except redis.exceptions.ConnectionError:
            if self._read_timed_out:
                raise redis.exceptions.TimeoutError(f"Timeout reading from {self._host_error()}") from None  # type: ignore[attr-defined]
            raise
        finally:
            self._read_deadline = None

    def _watch_read(self) -> None:
        self._read_watch = None
        deadline = self._read_deadline
        if deadline is None:   # between reads: the next one arms a watch again
            return
        loop = asyncio.get_running_loop()
        if loop.time() < deadline:
            self._read_watch = loop.call_at(deadline, self._watch_read)
        elif self._writer is not None:   # type: ignore[attr-defined]
            self._read_timed_out = True
            self._writer.transport.abort()   # type: ignore[attr-defined]

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str):
            args = tuple(args[0].encode().split()) + args[1:]
        elif b" " in args[0]:
            args = tuple(args[0].split()) + args[1:]
        if bool in map(type, args):   # as redis-py's own packer: a bool is a mistake, not a 1 or 0
            raise DataError("Invalid input of type: 'bool'. Convert to a bytes, string, int or float first.")
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            pass
        try:
            return [hiredis.pack_command(tuple(bytes(a) if isinstance(a, (bytearray, memoryview)) else a for a in args))]
        except TypeError as exc:
            raise DataError(str(exc)) from None


class PackedConnection(_LeanRoundTrip, Connection):
    pass


class PackedUnixConnection(_LeanRoundTrip, UnixDomainSocketConnection):
    pass


class WaitingPool(ConnectionPool):
    """One Redis server's shared connections: a command waits up to ``timeout`` seconds for one of
    ``max_connections`` (then ConnectionError, as BlockingConnectionPool) and takes an idle one without
    redis-py 8's work at every checkout — a condition and a lock, observability counters, and a
    zero-timeout read of the idle connection to see whether it holds data. None can: redis-py
    disconnects a connection on any error or cancellation within a send or a read, so an idle one was
    read to the end; one the server closed meanwhile has its reader at EOF and is connected afresh."""

    def __init__(self, *args: Any, timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wait_s = timeout
        self._free = asyncio.Semaphore(self.max_connections)

    async def get_connection(self, *args: Any, **kwargs: Any) -> Connection:
        if self._free.locked():
            try:
                async with asyncio.timeout(self._wait_s):
                    await self._free.acquire()
            except TimeoutError:
                raise redis.exceptions.ConnectionError("No connection available.") from None
        else:
            await self._free.acquire()
        connection = self._available_connections.pop() if self._available_connections else self.make_connection()
        self._in_use_connections.add(connection)
        try:
            reader = connection._reader
            if reader is not None and (reader.at_eof() or reader.exception() is not None):
                await connection.disconnect()
            if not connection.is_connected:
                await connection.connect()
        except BaseException:
            await self.release(connection)
            raise
        return connection

    async def release(self, connection: Connection) -> None:   # type: ignore[override]
        if connection in self._in_use_connections:
            self._in_use_connections.remove(connection)
            if connection.should_reconnect():
                await connection.disconnect()
            self._available_connections.append(connection)
            self._free.release()


def connection_class(url: str) -> type[Connection]:
    return PackedUnixConnection if url.startswith("unix:") else PackedConnection


def is_cluster(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def node_url(url: str) -> str:
    return "redis://" + url[len(CLUSTER_SCHEME):]


@contextlib.asynccontextmanager
async def _in_flight(slots: asyncio.Semaphore) -> AsyncIterator[None]:
    """A slot for one command or pipeline; and a connection a failover closed under it reported as
    the ConnectionError it is. redis-py lets the transport's own error out instead (redis/redis-py#4287):
    an AttributeError or TypeError on a ``None`` writer, or under uvloop a RuntimeError from the closed
    transport — a 500 where the answer is a 503."""
    async with slots:
        try:
            yield
        except (AttributeError, TypeError, RuntimeError) as exc:
            if "NoneType" not in str(exc) and "handler is closed" not in str(exc):
                raise
            raise redis.exceptions.ConnectionError(f"connection closed under the command ({exc})") from exc


class WaitingCluster(RedisCluster):
    """redis-py's cluster client refuses a command when a node's pool is full (MaxConnectionsError),
    where the single-node WaitingPool makes it wait: a burst of requests would become
    errors. This one waits too: at most ``max_connections`` commands or pipelines in flight."""

    def __init__(self, *args: Any, max_connections: int = 256, **kwargs: Any) -> None:
        super().__init__(*args, max_connections=max_connections, **kwargs)
        self.in_flight = asyncio.Semaphore(max_connections)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with _in_flight(self.in_flight):
            return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        return _WaitingPipeline(self, transaction=transaction)


class _WaitingPipeline(ClusterPipeline):
    async def execute(self, *args: Any, **kwargs: Any) -> list[Any]:
        async with _in_flight(self.cluster_client.in_flight):   # type: ignore[attr-defined]
            return await super().execute(*args, **kwargs)


def redis_client(url: str, blocking: bool = False, name: str | None = None, max_connections: int = 4) -> Redis:
    """A shared pool for scripts and commands; ``blocking`` gives a reader of streams or channels
    connections of its own without a socket timeout (redis-py 8 defaults to 5 s, which a blocking
    XREAD would trip), ``max_connections`` of them, named ``name`` in CLIENT LIST. On a cluster the
    client routes each command by its keys' slot, all of a center's keys sharing one (``{center}``);
    a blocking read of many centers' streams goes node by node (``engine/streams.py``)."""
    if is_cluster(url):
        options: dict[str, Any] = {"client_name": name} if name else {}
        if blocking:
            return WaitingCluster.from_url(node_url(url), socket_timeout=None, max_connections=max_connections,  # type: ignore[return-value]
                                           connection_class=PackedConnection, **options)
        return WaitingCluster.from_url(node_url(url), max_connections=256, socket_timeout=10,  # type: ignore[return-value]
                                       connection_class=PackedConnection, **options)
    if blocking:
        return Redis.from_url(url, socket_timeout=None, max_connections=max_connections, client_name=name,
                              connection_class=connection_class(url))
    pool = WaitingPool.from_url(url, max_connections=256, timeout=10, socket_timeout=10,
                                connection_class=connection_class(url))
    return Redis(connection_pool=pool)


class ClusterView:
    """Which node holds which slot, asked afresh on each ``look`` (a failover or a slot move changes
    the answer). It remembers every node it has met, so the node the URL names may be gone."""

    def __init__(self, url: str) -> None:
        self._cluster = RedisCluster.from_url(node_url(url))
        self._met = False

    async def look(self) -> RedisCluster:
        if self._met:
            await self._cluster.nodes_manager.initialize()
        else:   # the client's own first look: only then does its ``aclose`` close the nodes' connections
            await self._cluster.initialize()
            self._met = True
        return self._cluster

    async def aclose(self) -> None:
        await self._cluster.aclose()


async def subscriber(url: str, name: str) -> Redis:
    """A connection of its own for following change channels. On a cluster any primary will do: a
    PUBLISH reaches every node over the cluster bus. Taken afresh at each (re)subscription, so a node
    that went away is not asked again."""
    if not is_cluster(url):
        return redis_client(url, blocking=True, name=name, max_connections=1)
    view = ClusterView(url)
    try:
        node = random.choice((await view.look()).get_primaries())
    finally:
        await view.aclose()
    return node_client((node.host, int(node.port)), name, 1)


def node_client(at: tuple[str, int], name: str | None, max_connections: int) -> Redis:
    """A blocking client of one cluster node (its own connections, no socket timeout): the reads
    of many centers' streams that node holds, or a subscription to change channels."""
    return Redis(connection_pool=ConnectionPool(host=at[0], port=at[1], socket_timeout=None, client_name=name,
                                                max_connections=max_connections, connection_class=PackedConnection))


def sync_client(url: str) -> redis.Redis:
    """A blocking (synchronous) client, for the CLI and for tests and benchmarks tidying up."""
    if is_cluster(url):
        return redis.RedisCluster.from_url(node_url(url))   # type: ignore[return-value]
    return redis.Redis.from_url(url)
