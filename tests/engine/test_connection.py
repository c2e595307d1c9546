"""The hiredis-packing connection puts the same bytes on the wire as redis-py's own, refuses what it
refuses, and times out a reply that never comes without a timer per read; the shared pool waits for
a free connection, reconnects one the server closed, never hands out one holding a stale reply, and
sends without a task per command."""
from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio.connection
import redis.exceptions
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError

from queue_server.embedded import embedded_redis
from queue_server.engine.connection import (PackedConnection, PackedUnixConnection, WaitingPool, connection_class,
                                            is_cluster, redis_client, sync_client)
from queue_server.engine.scripts import Scripts

COMMANDS = [
    ("EVALSHA", "a" * 40, 2, "qs:{jingansi}:seq:20261129", "qs:{jingansi}:events", "A", 1795942057273, '{"m":"é"}'),
    ("CONFIG GET", "maxmemory"),
    (b"HSET", "k", b"f", memoryview(b"v"), bytearray(b"w"), 1.5, -2, 10**15, 0.1),
    ("XREAD", "COUNT", 500, "BLOCK", 2000, "STREAMS", *[f"qs:{{c{i}}}:events" for i in range(287)],
     *[f"1795942057273-{i}" for i in range(287)]),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: str(a[0]))
def test_the_same_bytes_as_redis_py(args: tuple) -> None:
    assert b"".join(PackedConnection().pack_command(*args)) == b"".join(Connection().pack_command(*args))


def test_the_same_refusals() -> None:
    for bad in (True, None, object()):
        with pytest.raises(DataError):
            Connection().pack_command("SET", "k", bad)
        with pytest.raises(DataError):
            PackedConnection().pack_command("SET", "k", bad)


def test_unix_sockets_keep_their_connection_kind() -> None:
    assert connection_class("unix:///tmp/redis.sock") is PackedUnixConnection
    assert issubclass(PackedUnixConnection, UnixDomainSocketConnection)
    assert connection_class("redis://127.0.0.1:6379/0") is PackedConnection


@pytest.fixture
def redis_url(service_urls: tuple[str, str]) -> str:
    if is_cluster(service_urls[0]):
        pytest.skip("the single-node pool")
    return service_urls[0]


async def test_a_full_pool_waits_for_a_connection_then_refuses(redis_url: str) -> None:
    pool = WaitingPool.from_url(redis_url, max_connections=2, timeout=0.3, connection_class=connection_class(redis_url))
    try:
        held = [await pool.get_connection(), await pool.get_connection()]
        with pytest.raises(redis.exceptions.ConnectionError):
            await pool.get_connection()
        waiting = asyncio.create_task(pool.get_connection())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await pool.release(held.pop())
        held.append(await asyncio.wait_for(waiting, 1))
        for c in held:
            await pool.release(c)
    finally:
        await pool.disconnect()


async def test_a_connection_the_server_closed_is_connected_afresh(redis_url: str) -> None:
    client, admin = redis_client(redis_url), redis_client(redis_url)
    try:
        first = await client.client_id()
        await admin.client_kill_filter(_id=first)
        await asyncio.sleep(0.1)
        assert await client.client_id() != first   # no error, no retry's back-off: reconnected at checkout
    finally:
        await client.aclose()
        await admin.aclose()


async def test_a_cancelled_command_leaves_no_reply_behind(redis_url: str) -> None:
    client, key = redis_client(redis_url), f"test-conn-{uuid.uuid4().hex}"
    try:
        await client.set(key, "kept", ex=60)
        blocked = asyncio.create_task(client.blpop([key + ":empty"], timeout=1))
        await asyncio.sleep(0.1)
        blocked.cancel()
        await asyncio.gather(blocked, return_exceptions=True)
        await client.rpush(key + ":empty", "late")   # the cancelled BLPOP's reply, had it stayed on the connection
        assert [await client.get(key) for _ in range(3)] == [b"kept"] * 3
    finally:
        await client.delete(key, key + ":empty")
        await client.aclose()


async def test_commands_are_sent_without_a_task_each(redis_url: str) -> None:
    client = redis_client(redis_url)
    loop = asyncio.get_running_loop()
    made: list[object] = []
    default = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro, **kwargs):  # type: ignore[no-untyped-def]
        made.append(coro)
        return default(loop, coro, **kwargs) if default else asyncio.Task(coro, loop=loop, **kwargs)

    try:
        await client.ping()
        loop.set_task_factory(counting)
        for _ in range(20):
            await client.ping()
        assert made == []
    finally:
        loop.set_task_factory(default)
        await client.aclose()


class HangingRedis:
    """A proxy in front of the test's Redis that passes everything until ``hang`` is set, then stops
    passing Redis's replies on: a Redis that took a command and never answers."""

    def __init__(self) -> None:
        self.hang = asyncio.Event()

    async def serve(self, target: str) -> asyncio.Server:
        at = redis.asyncio.connection.parse_url(target)
        host, port = at.get("host", "127.0.0.1"), at.get("port", 6379)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, replies: bool) -> None:
            while data := await reader.read(65536):
                if not (replies and self.hang.is_set()):
                    writer.write(data)
            writer.close()

        async def accept(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
            redis_r, redis_w = await asyncio.open_connection(host, port)
            await asyncio.gather(pipe(client_r, redis_w, False), pipe(redis_r, client_w, True), return_exceptions=True)

        return await asyncio.start_server(accept, "127.0.0.1", 0)


async def test_a_reply_that_never_comes_times_out_and_closes_its_connection(redis_url: str) -> None:
    proxy = HangingRedis()
    server = await proxy.serve(redis_url)
    conn = PackedConnection(host="127.0.0.1", port=server.sockets[0].getsockname()[1], socket_timeout=0.3)
    try:
        await conn.send_command("PING")
        assert await conn.read_response() == b"PONG"
        proxy.hang.set()
        await conn.send_command("PING")
        started = time.monotonic()
        with pytest.raises(redis.exceptions.TimeoutError, match="Timeout reading from"):
            await conn.read_response()
        assert 0.3 <= time.monotonic() - started < 1.0
        assert not conn.is_connected
    finally:
        await conn.disconnect()
        server.close()


async def test_replies_are_read_without_a_timer_each_and_a_busy_connection_outlives_its_timeout(redis_url: str) -> None:
    conn = PackedConnection(**redis.asyncio.connection.parse_url(redis_url), socket_timeout=0.2)
    loop = asyncio.get_running_loop()
    watches: list[float] = []
    call_at = loop.call_at

    def counting(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        if getattr(callback, "__self__", None) is conn:
            watches.append(when)
        return call_at(when, callback, *args, **kwargs)

    await conn.connect()
    loop.call_at = counting   # type: ignore[method-assign]
    try:
        started = time.monotonic()
        while time.monotonic() - started < 0.7:   # over three timeouts' worth of replies, each well within it
            await conn.send_command("PING")
            assert await conn.read_response() == b"PONG"
            await asyncio.sleep(0.01)
        assert 1 <= len(watches) <= 6, "one watch, following the reads"
        await conn.send_command("PING")
        assert await conn.read_response(timeout=1) == b"PONG"   # a read's own timeout: redis-py's way
    finally:
        loop.call_at = call_at   # type: ignore[method-assign]
        await conn.disconnect()


async def test_the_embedded_redis_on_a_unix_socket_serves_scripts_pipelines_and_blocking_reads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with embedded_redis(tmp_path / "redis", persistent=False, unix_socket=True) as url:
        assert url == f"unix://{(tmp_path / 'redis' / 'redis.sock').resolve()}?db=0"
        shared, reader = redis_client(url), redis_client(url, blocking=True, name="reader")
        try:
            scripts = Scripts(shared)
            answers = await asyncio.gather(*(scripts.call("record_lag", ["qs:{unix}:events"], [2, "record", 10, 1, 0])
                                             for _ in range(3)))   # one turn: one pipelined round trip
            assert answers == [[[]]] * 3   # no stream, no group yet
            entry = await shared.xadd("qs:{unix}:events", {"type": "t"})
            got = await reader.execute_command("XREAD", "BLOCK", 1000, "STREAMS", "qs:{unix}:events", "0-0")
            assert got[0][1][0][0] == entry
        finally:
            await shared.aclose()
            await reader.aclose()


def test_a_folder_too_deep_for_a_unix_socket_keeps_tcp(tmp_path) -> None:  # type: ignore[no-untyped-def]
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    with embedded_redis(deep, persistent=False, unix_socket=True) as url:
        assert url.startswith("redis://127.0.0.1:")
        with sync_client(url) as client:
            assert client.ping()
