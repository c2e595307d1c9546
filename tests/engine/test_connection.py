"""The hiredis-packing connection puts the same bytes on the wire as redis-py's own, and refuses what
it refuses."""
from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError

from queue_server.engine.connection import PackedConnection, PackedUnixConnection, connection_class

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
